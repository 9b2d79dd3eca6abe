package ldap

import (
	"context"
	"fmt"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// SearchResult is what a search saw besides the entries it streamed.
type SearchResult struct {
	// Entries is the number of entries passed to fn.
	Entries int
	// Referrals are the search continuation references the server
	// returned (Active Directory from the domain root: other partitions).
	// usersync does not follow them: entries held there are not in the
	// result.
	Referrals []string
}

// Search streams the users and groups matching query to fn. Plain text
// with * wildcards is escaped and matched against the username, common
// name, given name, surname, display name and mail of users and the name
// of groups; text starting with "(" is a raw filter, checked before it is
// sent. An entry without its external ID is passed with ExternalID "" (an
// error row, never keyed by its DN). Referrals are not followed; see
// SearchDetailed.
func (d *Directory) Search(ctx context.Context, query string, fn func(directory.Entry) error) error {
	_, err := d.SearchDetailed(ctx, query, fn)
	return err
}

// SearchDetailed is Search, also returning the number of entries and the
// referrals the server returned.
func (d *Directory) SearchDetailed(ctx context.Context, query string, fn func(directory.Entry) error) (SearchResult, error) {
	var res SearchResult
	userQ, groupQ, err := d.sch.queryFilters(query)
	if err != nil {
		return res, err
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	conn, err := d.client(ctx)
	if err != nil {
		return res, err
	}
	// Users and groups are searched apart, even under one base: each entry's
	// type is then known without asking for its object classes (a quarter
	// of the decoding work per user).
	reqs := []struct {
		searchReq
		entry func(*entryView) (directory.Entry, error)
	}{
		{searchReq{base: d.userBase, filter: "(&" + d.sch.userFilter + userQ + ")", attrs: d.sch.userAttrs()}, d.sch.user},
		{searchReq{base: d.groupBase, filter: "(&" + d.sch.groupFilter + groupQ + ")", attrs: d.sch.groupAttrs()}, d.sch.group},
	}
	for _, r := range reqs {
		r.scope = goldap.ScopeWholeSubtree
		// Entries are mapped straight from the bytes read (see bulkConn).
		refs, err := d.streamView(ctx, conn, r.searchReq, func(e *entryView) error {
			out, _ := r.entry(e) // an entry without its ID is an error row
			res.Entries++
			return fn(out)
		})
		for _, ref := range refs {
			if !slices.Contains(res.Referrals, ref) {
				res.Referrals = append(res.Referrals, ref)
			}
		}
		if err != nil {
			return res, fmt.Errorf("search %s for %q: %w", d.label(), query, err)
		}
	}
	return res, nil
}

// queryFilters turns what a person typed into the user and group parts of
// the search filter. Plain text is escaped piece by piece around its *
// wildcards, so it can never change the filter's structure; a raw filter
// (starting with "(") is compiled first, and its error says what is wrong.
func (s *schema) queryFilters(query string) (user, group string, err error) {
	q := strings.TrimSpace(query)
	if strings.HasPrefix(q, "(") {
		if _, err := goldap.CompileFilter(q); err != nil {
			return "", "", fmt.Errorf("invalid LDAP filter \"%s\": %s", q, filterProblem(err))
		}
		return q, q, nil
	}
	v := wildcardValue(q)
	var b strings.Builder
	b.WriteString("(|")
	for _, a := range s.searchAttrs() {
		b.WriteString("(" + a + "=" + v + ")")
	}
	b.WriteString(")")
	user = b.String()
	group = "(" + s.groupName + "=" + v + ")"
	for _, f := range []string{user, group} {
		if _, err := goldap.CompileFilter(f); err != nil {
			// Cannot happen with escaped values; refuse rather than send.
			return "", "", fmt.Errorf("search %q: %s", query, filterProblem(err))
		}
	}
	return user, group, nil
}

// wildcardValue escapes every part of text between * wildcards with
// ldap.EscapeFilter and keeps the wildcards; runs of * count as one, and
// empty text matches everything.
func wildcardValue(text string) string {
	if text == "" {
		return "*"
	}
	parts := strings.Split(text, "*")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 && !strings.HasSuffix(b.String(), "*") {
			b.WriteString("*")
		}
		b.WriteString(goldap.EscapeFilter(p))
	}
	return b.String()
}

// filterProblem is go-ldap's filter error without its codes and prefixes.
func filterProblem(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "ldap: "); i >= 0 {
		msg = msg[i+len("ldap: "):]
	}
	return msg
}

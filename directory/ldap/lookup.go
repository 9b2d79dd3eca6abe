package ldap

import (
	"context"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// LookupUsers reads the users with the given external IDs under the user
// base, in OR filters of up to 100 IDs per search. IDs the directory does
// not return are absent from the map (deleted, or no longer users). Any
// error — including a referral that may hold users, a limit or a lost
// connection — returns no map at all: nothing can be concluded about
// absent IDs. The map is keyed by the IDs as given.
func (d *Directory) LookupUsers(ctx context.Context, externalIDs []string) (map[string]directory.Entry, error) {
	out := make(map[string]directory.Entry, len(externalIDs))
	if len(externalIDs) == 0 {
		return out, nil
	}
	// The IDs as given, by their folded form: the server may write an ID
	// in another case than the store kept it.
	asked := make(map[string][]string, len(externalIDs))
	var values []string
	for _, id := range externalIDs {
		k := strings.ToLower(strings.TrimSpace(id))
		if _, dup := asked[k]; !dup {
			v, err := d.sch.idFilterValue(id)
			if err != nil {
				return nil, fmt.Errorf("look up users on %s: %w", d.label(), err)
			}
			values = append(values, v)
		}
		asked[k] = append(asked[k], id)
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	conn, err := d.client(ctx)
	if err != nil {
		return nil, err
	}
	s := d.sch
	for start := 0; start < len(values); start += batchSize {
		end := min(start+batchSize, len(values))
		var b strings.Builder
		for _, v := range values[start:end] {
			b.WriteString("(" + s.externalID + "=" + v + ")")
		}
		refs, err := d.stream(ctx, conn, searchReq{
			base: d.userBase, scope: goldap.ScopeWholeSubtree,
			filter: "(&" + s.userFilter + "(|" + b.String() + "))",
			attrs:  s.userAttrs(),
		}, func(e *goldap.Entry) error {
			u, err := s.userEntry(e)
			if err != nil {
				return nil // matched by an ID it lacks: cannot happen
			}
			for _, id := range asked[strings.ToLower(u.ExternalID)] {
				out[id] = u
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("look up users on %s: %w", d.label(), err)
		}
		if referralsMatter(refs) {
			return nil, &directory.IncompleteError{Reason: fmt.Sprintf("looking up users on %s: the server referred to %s, which usersync does not follow", d.label(), strings.Join(refs, ", "))}
		}
	}
	return out, nil
}

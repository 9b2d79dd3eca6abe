package ldap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// The change feed is RFC 4533 content synchronization in refreshOnly
// mode, as OpenLDAP's syncprov overlay, 389-DS and FreeIPA offer it — and
// on Active Directory DirSync or uSNChanged (see adfeed.go).
//
// It runs two sync searches, always: the users (the flavor's user filter
// under user_base_dn) and the groups (its group filter under
// group_base_dn) — the scopes Search reads, so that every entry comes
// with its type and only the attributes its type maps. Each search keeps
// its own server cookie; the feed's cookie holds both, with the base and
// filter each was taken under (see feedCookie). FeedCookie runs the same
// searches (same base, scope and filter: 389-DS binds its cookies to the
// bind DN, base and filter) asking for no attributes.
//
// What slapd 2.5 sends, and what Changes makes of it (see feed_test.go):
//   - changed entries, whole, as add states: Entries;
//   - with a session log covering the cookie, the IDs of the entries
//     deleted since (syncIdSet, refreshDeletes) — and also of entries
//     modified since that do not match the search (a group's ID in the
//     users' search): every such ID is looked up again before it is called
//     deleted (verifyDeleted);
//   - otherwise a present phase: the IDs of every entry in scope
//     (syncIdSet without refreshDeletes), ending with refreshDeletes
//     false: Present. When one search answers with a present phase and
//     the other with deletions, the other's scope is listed (IDs only) so
//     that Present covers both;
//   - nothing and no new cookie when nothing changed since the cookie.

// oidSync is the RFC 4533 Sync Request control, listed in the root DSE's
// supportedControl by servers that offer content synchronization.
const oidSync = goldap.ControlTypeSyncRequest

var _ directory.ChangeFeed = (*Directory)(nil)

// feedPart is one of the feed's sync searches.
type feedPart struct {
	typ    directory.EntryType
	base   string
	filter string
	attrs  []string
	entry  func(*goldap.Entry) (directory.Entry, error)
}

// feedParts are the feed's searches: users, then groups.
func (d *Directory) feedParts() []feedPart {
	return []feedPart{
		{typ: directory.TypeUser, base: d.userBase, filter: d.sch.userFilter, attrs: d.sch.userAttrs(), entry: d.sch.userEntry},
		{typ: directory.TypeGroup, base: d.groupBase, filter: d.sch.groupFilter, attrs: d.sch.groupAttrs(), entry: d.sch.groupEntry},
	}
}

func (p feedPart) req(attrs []string) searchReq {
	return searchReq{base: p.base, scope: goldap.ScopeWholeSubtree, filter: p.filter, attrs: attrs, noPaging: true}
}

// noFeed says why this directory has no change feed, or returns nil.
func (d *Directory) noFeed() error {
	if !d.syncControl {
		return fmt.Errorf("%s: %w: the server does not offer RFC 4533 content synchronization (its root DSE does not list the Sync Request control %s), so usersync reads it fully — on OpenLDAP, add the syncprov overlay to the database to sync only what changed",
			d.label(), directory.ErrNoFeed, oidSync)
	}
	if !strings.EqualFold(d.sch.externalID, "entryUUID") {
		return fmt.Errorf("%s: %w: the change feed names entries by entryUUID and external_id is %s, so usersync reads it fully",
			d.label(), directory.ErrNoFeed, d.sch.externalID)
	}
	return nil
}

// FeedCookie returns a change feed cookie for the directory as it is now.
// It runs the feed's two sync searches without a cookie asking for no
// attributes: the server still sends every entry's DN (1–2 s per 100,000
// users through go-ldap, 0.5 s for ldapsearch; see BenchmarkChanges100k),
// so a server's size limit on the bind account stops it (an incomplete
// read). It wraps directory.ErrNoFeed when the server offers no content
// synchronization.
//
// The same search with scope base would cost milliseconds, and its cookie
// resumes the subtree search identically on syncprov (a cookie is a CSN)
// and on 389-DS (which binds a cookie to the bind DN, base and filter,
// not the scope); but RFC 4533 promises nothing for a cookie used with
// another search, so the scope stays the same.
func (d *Directory) FeedCookie(ctx context.Context) ([]byte, error) {
	if d.adFeed() {
		return d.adFeedCookie(ctx)
	}
	if err := d.noFeed(); err != nil {
		return nil, err
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	conn, err := d.client(ctx)
	if err != nil {
		return nil, err
	}
	var parts []cookiePart
	for _, p := range d.feedParts() {
		done, _, err := d.syncSearch(ctx, conn, p.req([]string{"1.1"}), nil, syncHandler{})
		if err != nil {
			return nil, fmt.Errorf("take a change feed cookie from %s: %w", d.label(), err)
		}
		if len(done.Cookie) == 0 {
			return nil, fmt.Errorf("take a change feed cookie from %s: the server sent none for %s — usersync reads it fully until it does", d.label(), p.base)
		}
		parts = append(parts, cookiePart{Type: p.typ, Base: p.base, Filter: p.filter, Server: done.Cookie})
	}
	return encodeCookie(parts), nil
}

// Changes returns what changed among the directory's users and groups
// since cookie (from FeedCookie or an earlier Changes), with the members
// of every changed group resolved to external IDs. Nothing partial is
// ever returned: a read cut short (a lost connection, a silent server, a
// size limit, a cancelled ctx) is an error wrapping
// directory.ErrIncomplete. A cookie the server refuses (e-syncRefreshRequired,
// or one from another server), or that was taken under another
// configuration, or damaged, wraps directory.ErrCookieRefused; a server
// without content synchronization wraps directory.ErrNoFeed.
func (d *Directory) Changes(ctx context.Context, cookie []byte) (*directory.Changes, error) {
	if d.adFeed() {
		return d.adChanges(ctx, cookie)
	}
	if err := d.noFeed(); err != nil {
		return nil, err
	}
	parts := d.feedParts()
	held, err := decodeCookie(cookie)
	if err == nil {
		err = matchCookie(held, parts)
	}
	if err != nil {
		return nil, d.refusedCookie(err)
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	conn, err := d.client(ctx)
	if err != nil {
		return nil, err
	}
	fr := d.newFeedRead(conn)
	for i, p := range parts {
		if err := fr.refresh(ctx, p, held[i]); err != nil {
			return nil, err
		}
	}
	steps := []func(context.Context) error{fr.verifyDeleted, fr.completePresent, fr.resolveMembers}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("read changes from %s: %w", d.label(), err)
		}
	}
	out := &directory.Changes{
		Cookie:  encodeCookie(fr.cookies),
		Entries: fr.entries,
		Members: fr.members,
		Deleted: fr.deleted,
		Reads:   fr.reads,
	}
	if fr.presentMode {
		out.Present = fr.present
	}
	return out, nil
}

// feedRead gathers one Changes call.
type feedRead struct {
	d    *Directory
	conn *session

	entries []directory.Entry
	// index finds an entry by its folded external ID.
	index map[string]int
	// groups are the raw group entries, by folded ID, for their members.
	groups map[string]*goldap.Entry
	// candidates are the folded IDs the server said were deleted (or no
	// longer match), in order, before verifyDeleted.
	candidates map[string]bool
	candOrder  []string
	deleted    []string
	// partPresent is, per search, its present set when it answered with a
	// present phase, else nil.
	partPresent []map[string]bool
	presentMode bool
	present     map[string]bool
	members     map[string][]string
	cookies     []cookiePart
	reads       int
}

// idKey is the map key of an external ID: entryUUIDs compare case-insensitively.
func idKey(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// add records an entry as it is now; a later state of the same entry
// replaces an earlier one.
func (fr *feedRead) add(typ directory.EntryType, raw *goldap.Entry, e directory.Entry) {
	if e.ExternalID == "" {
		fr.entries = append(fr.entries, e) // an error row, as Search passes it
		return
	}
	k := idKey(e.ExternalID)
	if i, ok := fr.index[k]; ok {
		fr.entries[i] = e
	} else {
		fr.index[k] = len(fr.entries)
		fr.entries = append(fr.entries, e)
	}
	if typ == directory.TypeGroup {
		fr.groups[k] = raw
	} else {
		delete(fr.groups, k)
	}
}

func (fr *feedRead) candidate(id string) {
	k := idKey(id)
	if !fr.candidates[k] {
		fr.candidates[k] = true
		fr.candOrder = append(fr.candOrder, k)
	}
}

// refresh runs one part's sync search from its cookie.
func (fr *feedRead) refresh(ctx context.Context, p feedPart, held cookiePart) error {
	d := fr.d
	present := map[string]bool{}
	done, n, err := d.syncSearch(ctx, fr.conn, p.req(p.attrs), held.Server, syncHandler{
		entry: func(e *goldap.Entry, st *goldap.ControlSyncState) {
			id := st.EntryUUID.String()
			switch st.State {
			case goldap.SyncStatePresent:
				present[idKey(id)] = true
			case goldap.SyncStateAdd, goldap.SyncStateModify:
				out, _ := p.entry(e) // an entry without its ID is an error row
				fr.add(p.typ, e, out)
				present[idKey(id)] = true
			case goldap.SyncStateDelete:
				fr.candidate(id)
			}
		},
		ids: func(ids []string, deletes bool) {
			for _, id := range ids {
				if deletes {
					fr.candidate(id)
				} else {
					present[idKey(id)] = true
				}
			}
		},
	})
	fr.reads += n
	if err != nil {
		return fmt.Errorf("read changes from %s: %w", d.label(), err)
	}
	next := done.Cookie
	if len(next) == 0 {
		if n > 0 {
			// What slapd does with a cookie it cannot parse: it answers
			// as to a new client, every entry and no deletions, and no
			// cookie. Deletions would be lost.
			return fmt.Errorf("%s: %w: the server answered as if it did not know the cookie (%d entries, no new cookie) — usersync reads fully and takes a new cookie", d.label(), directory.ErrCookieRefused, n)
		}
		next = held.Server // nothing changed
	}
	if !done.RefreshDeletes {
		fr.partPresent = append(fr.partPresent, present)
		fr.presentMode = true
	} else {
		fr.partPresent = append(fr.partPresent, nil)
	}
	fr.cookies = append(fr.cookies, cookiePart{Type: p.typ, Base: p.base, Filter: p.filter, Server: next})
	return nil
}

// verifyDeleted looks up again every ID the server called deleted that
// no search returned as changed: slapd's session log also reports
// entries modified since the cookie that do not match a search (every
// changed group is "deleted" from the users' search, and every changed
// user from the groups'), and an entry may have changed between the two
// searches. An ID found under its part's base and filter is an entry as
// it is now; the others are deleted.
func (fr *feedRead) verifyDeleted(ctx context.Context) error {
	var ids []string
	for _, k := range fr.candOrder {
		if _, changed := fr.index[k]; !changed {
			ids = append(ids, k)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	d := fr.d
	found := map[string]bool{}
	for _, p := range d.feedParts() {
		err := fr.byIDs(ctx, p.base, p.filter, p.attrs, ids, func(e *goldap.Entry) {
			out, err := p.entry(e)
			if err != nil {
				return
			}
			fr.add(p.typ, e, out)
			found[idKey(out.ExternalID)] = true
		})
		if err != nil {
			return fmt.Errorf("checking %d entries reported deleted: %w", len(ids), err)
		}
	}
	for _, k := range ids {
		if !found[k] {
			fr.deleted = append(fr.deleted, k)
		}
	}
	return nil
}

// byIDs streams the entries with the given external IDs under base that
// match filter, 100 IDs per search.
func (fr *feedRead) byIDs(ctx context.Context, base, filter string, attrs, ids []string, fn func(*goldap.Entry)) error {
	d := fr.d
	for start := 0; start < len(ids); start += batchSize {
		var b strings.Builder
		for _, id := range ids[start:min(start+batchSize, len(ids))] {
			v, err := d.sch.idFilterValue(id)
			if err != nil {
				return err
			}
			b.WriteString("(" + d.sch.externalID + "=" + v + ")")
		}
		refs, err := d.stream(ctx, fr.conn, searchReq{
			base: base, scope: goldap.ScopeWholeSubtree, filter: "(&" + filter + "(|" + b.String() + "))", attrs: attrs,
		}, func(e *goldap.Entry) error {
			fr.reads++
			fn(e)
			return nil
		})
		if err != nil {
			return err
		}
		if err := unfollowed(refs); err != nil {
			return err
		}
	}
	return nil
}

// completePresent makes Present whole when any search answered with a
// present phase: the scope of a search that answered with deletions
// instead is listed (IDs only), so that the caller never takes a missing
// scope for deleted entries.
func (fr *feedRead) completePresent(ctx context.Context) error {
	if !fr.presentMode {
		return nil
	}
	fr.present = map[string]bool{}
	d := fr.d
	for i, p := range d.feedParts() {
		set := fr.partPresent[i]
		if set == nil {
			set = map[string]bool{}
			refs, err := d.stream(ctx, fr.conn, searchReq{
				base: p.base, scope: goldap.ScopeWholeSubtree, filter: p.filter, attrs: []string{d.sch.externalID},
			}, func(e *goldap.Entry) error {
				fr.reads++
				if id, err := d.sch.externalIDOf(e); err == nil {
					set[idKey(id)] = true
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("listing what is present under %s: %w", p.base, err)
			}
			if referralsMatter(refs) {
				return &directory.IncompleteError{Reason: fmt.Sprintf("listing what is present under %s: the server referred to %s, which usersync does not follow", p.base, strings.Join(refs, ", "))}
			}
		}
		for k := range set {
			fr.present[k] = true
		}
	}
	for _, e := range fr.entries {
		if e.ExternalID != "" {
			fr.present[idKey(e.ExternalID)] = true
		}
	}
	return nil
}

// resolveMembers gives every changed group its direct members' external
// IDs. Member DNs of entries this read returned cost nothing; the others
// are looked up asking only for the external ID, once however many
// groups list them: by one memberOf search for a group with more than
// 100 of them, otherwise in OR filters of up to 100 RDNs (500 members:
// ~50 ms against ~90 ms, measured with BenchmarkChanges100k); memberUid
// values in OR filters of 100 usernames. As in ReadGroup, a DN outside
// the user and group bases, or naming no user or group, is not a member;
// a member value that cannot be looked up makes the read incomplete.
func (fr *feedRead) resolveMembers(ctx context.Context) error {
	if len(fr.groups) == 0 {
		return nil
	}
	s := fr.d.sch
	known := map[string]string{} // DN key → external ID
	for _, e := range fr.entries {
		if e.ExternalID == "" {
			continue
		}
		if k, ok := dnKey(e.DN); ok {
			known[k] = e.ExternalID
		}
	}
	pending := map[string]*goldap.DN{}
	uids := map[string]bool{}
	for _, g := range fr.groups {
		if s.memberCount(viewOf(g)) < 0 {
			return &directory.IncompleteError{Reason: fmt.Sprintf("the members of %s came in ranges, which the change feed does not follow", g.DN)}
		}
		for _, attr := range s.memberAttrs {
			for _, v := range g.GetEqualFoldAttributeValues(attr) {
				if strings.TrimSpace(v) == "" {
					continue // the empty DN: how a groupOfNames says "no members"
				}
				p, err := goldap.ParseDN(v)
				if err != nil || len(p.RDNs) == 0 {
					return &directory.IncompleteError{Reason: fmt.Sprintf("%s of %s: %q is not a DN", attr, g.DN, v)}
				}
				if k := parsedKey(p); known[k] == "" {
					pending[k] = p
				}
			}
		}
		if s.memberUID != "" {
			for _, u := range g.GetEqualFoldAttributeValues(s.memberUID) {
				if u = strings.TrimSpace(u); u != "" {
					uids[fold(u)] = true
				}
			}
		}
	}
	if err := fr.byMemberOf(ctx, pending, known); err != nil {
		return fmt.Errorf("looking up the members of %d changed groups: %w", len(fr.groups), err)
	}
	if err := fr.lookupDNs(ctx, pending, known); err != nil {
		return fmt.Errorf("looking up the members of %d changed groups: %w", len(fr.groups), err)
	}
	byUID, err := fr.lookupUIDs(ctx, uids)
	if err != nil {
		return fmt.Errorf("looking up the memberUid of %d changed groups: %w", len(fr.groups), err)
	}

	fr.members = make(map[string][]string, len(fr.groups))
	for _, e := range fr.entries {
		g := fr.groups[idKey(e.ExternalID)]
		if e.Type != directory.TypeGroup || g == nil {
			continue
		}
		seen := map[string]bool{}
		ids := []string{}
		take := func(id string) {
			if id != "" && !seen[idKey(id)] {
				seen[idKey(id)] = true
				ids = append(ids, id)
			}
		}
		for _, attr := range s.memberAttrs {
			for _, v := range g.GetEqualFoldAttributeValues(attr) {
				if k, ok := dnKey(v); ok {
					take(known[k])
				}
			}
		}
		if s.memberUID != "" {
			for _, u := range g.GetEqualFoldAttributeValues(s.memberUID) {
				for _, id := range byUID[fold(strings.TrimSpace(u))] {
					take(id)
				}
			}
		}
		fr.members[e.ExternalID] = ids
	}
	return nil
}

// byMemberOf resolves the pending member DNs of each changed group with
// more than 100 of them by one memberOf search (where the server keeps
// memberOf), as ReadGroup does: a page of 500 members costs one search
// rather than five OR filters. member stays the truth: an entry memberOf
// names that is not pending is ignored, and what memberOf misses is left
// for lookupDNs.
func (fr *feedRead) byMemberOf(ctx context.Context, pending map[string]*goldap.DN, known map[string]string) error {
	s := fr.d.sch
	if s.memberOf == "" {
		return nil
	}
	for _, g := range fr.groups {
		n := 0
		for _, attr := range s.memberAttrs {
			for _, v := range g.GetEqualFoldAttributeValues(attr) {
				if k, ok := dnKey(v); ok && pending[k] != nil {
					n++
				}
			}
		}
		if n <= batchSize {
			continue
		}
		filter := "(&(|" + s.userFilter + s.groupFilter + ")(" + s.memberOf + "=" + goldap.EscapeFilter(g.DN) + "))"
		for _, b := range fr.d.lookupBases() {
			refs, err := fr.d.stream(ctx, fr.conn, searchReq{base: b.dn, scope: goldap.ScopeWholeSubtree, filter: filter, attrs: []string{s.externalID}},
				func(e *goldap.Entry) error {
					fr.reads++
					k, ok := dnKey(e.DN)
					if !ok || pending[k] == nil {
						return nil
					}
					if id, err := s.externalIDOf(e); err == nil {
						known[k] = id
						delete(pending, k)
					}
					return nil
				})
			if err != nil {
				return err
			}
			if err := unfollowed(refs); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookupDNs resolves pending member DNs to external IDs into known.
func (fr *feedRead) lookupDNs(ctx context.Context, pending map[string]*goldap.DN, known map[string]string) error {
	d, s := fr.d, fr.d.sch
	if len(pending) == 0 {
		return nil
	}
	for _, b := range d.lookupBases() {
		var batch []string
		wanted := map[string]bool{}
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			filter := "(&(|" + s.userFilter + s.groupFilter + ")(|" + strings.Join(batch, "") + "))"
			refs, err := d.stream(ctx, fr.conn, searchReq{base: b.dn, scope: goldap.ScopeWholeSubtree, filter: filter, attrs: []string{s.externalID}},
				func(e *goldap.Entry) error {
					fr.reads++
					k, ok := dnKey(e.DN)
					if !ok || !wanted[k] {
						return nil // same RDN, elsewhere
					}
					id, err := s.externalIDOf(e)
					if err != nil {
						return &directory.IncompleteError{Reason: err.Error()}
					}
					known[k] = id
					return nil
				})
			if err != nil {
				return err
			}
			if err := unfollowed(refs); err != nil {
				return err
			}
			batch, wanted = batch[:0], map[string]bool{}
			return nil
		}
		for k, p := range pending {
			if !under(p, b.parsed) {
				continue
			}
			assert, ok := rdnFilter(p.RDNs[0])
			if !ok {
				return &directory.IncompleteError{Reason: fmt.Sprintf("member %s: its RDN cannot be searched for", p.String())}
			}
			batch = append(batch, assert)
			wanted[k] = true
			delete(pending, k)
			if len(batch) >= batchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil // what is left is outside the bases: not members usersync reads
}

// lookupUIDs resolves posixGroup memberUid values (folded) to the
// external IDs of the users with that username.
func (fr *feedRead) lookupUIDs(ctx context.Context, uids map[string]bool) (map[string][]string, error) {
	d, s := fr.d, fr.d.sch
	out := map[string][]string{}
	list := make([]string, 0, len(uids))
	for u := range uids {
		list = append(list, u)
	}
	for start := 0; start < len(list); start += batchSize {
		var b strings.Builder
		for _, u := range list[start:min(start+batchSize, len(list))] {
			b.WriteString("(" + s.username + "=" + goldap.EscapeFilter(u) + ")")
		}
		refs, err := d.stream(ctx, fr.conn, searchReq{
			base: d.userBase, scope: goldap.ScopeWholeSubtree,
			filter: "(&" + s.userFilter + "(|" + b.String() + "))", attrs: []string{s.externalID, s.username},
		}, func(e *goldap.Entry) error {
			fr.reads++
			id, err := s.externalIDOf(e)
			if err != nil {
				return &directory.IncompleteError{Reason: err.Error()}
			}
			u := fold(e.GetEqualFoldAttributeValue(s.username))
			out[u] = append(out[u], id)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := unfollowed(refs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// syncHandler receives what a sync search sends: entries with their sync
// state, and the IDs of syncIdSet messages (deletes: refreshDeletes).
type syncHandler struct {
	entry func(e *goldap.Entry, st *goldap.ControlSyncState)
	ids   func(ids []string, deletes bool)
}

// syncSearch runs one refreshOnly sync search from cookie (nil: the whole
// content) and returns its Sync Done control and the number of entries
// and IDs the server sent. It ends as stream does: every way the search
// can end short is an error wrapping directory.ErrIncomplete; a refused
// cookie wraps directory.ErrCookieRefused, a server without content
// synchronization directory.ErrNoFeed.
func (d *Directory) syncSearch(ctx context.Context, conn *session, req searchReq, cookie []byte, h syncHandler) (*goldap.ControlSyncDone, int, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sr := goldap.NewSearchRequest(req.base, req.scope, goldap.NeverDerefAliases, 0, 0, false, req.filter, req.attrs, nil)
	resp := conn.Syncrepl(pctx, sr, d.pageSize+64, goldap.SyncRequestModeRefreshOnly, cookie, false)
	var (
		n     int
		done  *goldap.ControlSyncDone
		plain bool // an entry without a sync state: the control was ignored
		refs  []string
	)
	for conn.next(resp) {
		if ctx.Err() != nil {
			break // abandoned: deliver nothing more
		}
		if e := resp.Entry(); e != nil {
			st, _ := goldap.FindControl(resp.Controls(), goldap.ControlTypeSyncState).(*goldap.ControlSyncState)
			if st == nil {
				plain = true
				break
			}
			n++
			if h.entry != nil {
				h.entry(e, st)
			}
			continue
		}
		if ref := resp.Referral(); ref != "" {
			refs = append(refs, ref)
		}
		for _, c := range resp.Controls() {
			switch c := c.(type) {
			case *goldap.ControlSyncInfo:
				if set := c.SyncIdSet; set != nil {
					ids := make([]string, len(set.SyncUUIDs))
					for i, u := range set.SyncUUIDs {
						ids[i] = u.String()
					}
					n += len(ids)
					if h.ids != nil {
						h.ids(ids, set.RefreshDeletes)
					}
				}
			case *goldap.ControlSyncDone:
				done = c
			}
		}
	}
	err := resp.Err()
	cancel()
	switch {
	case ctx.Err() == nil && conn.stalled():
		return nil, n, &directory.IncompleteError{Reason: d.c.noAnswer(fmt.Sprintf("after %d entries of the change feed under %s", n, req.base)).Error()}
	case plain:
		return nil, n, fmt.Errorf("%w: the server answered the sync search under %s as a plain search (no Sync State control), so usersync reads it fully", directory.ErrNoFeed, req.base)
	case err != nil:
		return nil, n, d.syncError(req, cookie, n, err)
	case ctx.Err() != nil:
		return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("cancelled after %d entries of the change feed under %s", n, req.base), Err: ctx.Err()}
	case done == nil && conn.IsClosing():
		// As in stream: only the final result proves the search finished.
		reason := fmt.Sprintf("the connection to %s was lost after %d entries of the change feed under %s", d.c.hostport, n, req.base)
		return nil, n, &directory.IncompleteError{Reason: reason, Err: conn.GetLastError()}
	case done == nil:
		return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("the sync search under %s ended without its Sync Done control after %d entries", req.base, n)}
	case referralsMatter(refs):
		return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("the server referred the sync search under %s to %s, which usersync does not follow", req.base, strings.Join(refs, ", "))}
	}
	return done, n, nil
}

// syncError says what ended a sync search: a refused cookie, a server
// without content synchronization, or what searchError says.
func (d *Directory) syncError(req searchReq, cookie []byte, n int, err error) error {
	server := ""
	var le *goldap.Error
	if errors.As(err, &le) && le.Err != nil && le.Err.Error() != "" {
		server = " (the server says: " + le.Err.Error() + ")"
	}
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSyncRefreshRequired):
		return fmt.Errorf("%w: e-syncRefreshRequired for %s%s — usersync reads fully and takes a new cookie", directory.ErrCookieRefused, req.base, server)
	case len(cookie) > 0 && goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform):
		// slapd: "consumer state is newer than provider!" — a cookie from
		// another server, or a database restored from an older backup.
		return fmt.Errorf("%w: the server is unwilling to resume %s from this cookie%s, which is not from its history (another server, or a restored database) — usersync reads fully and takes a new cookie", directory.ErrCookieRefused, req.base, server)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultUnavailableCriticalExtension):
		return fmt.Errorf("%w: the server offers no content synchronization on %s%s, so usersync reads it fully — on OpenLDAP, add the syncprov overlay to that database", directory.ErrNoFeed, req.base, server)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded):
		return &directory.IncompleteError{
			Reason: fmt.Sprintf("the server's size limit stopped the change feed under %s after %d entries: a sync search cannot be paged — give the bind account an unlimited size limit (OpenLDAP: olcLimits), or usersync reads fully", req.base, n),
			Err:    err,
		}
	}
	return d.searchError(req, n, err)
}

// The feed's cookie is opaque to its holder. It is the server cookie of
// each part with the type, base and filter it was taken under — a cookie
// taken under another configuration is refused rather than resumed from
// (the server's cookie says nothing about the search) — as JSON, behind a
// format line and followed by a checksum, so that a damaged cookie is
// refused rather than sent (slapd takes a cookie it cannot parse for none,
// and a changed CSN for another point in time):
//
//	usersync-ldap-feed/1
//	{"parts":[{"type":"user","base":"…","filter":"…","server":"<base64>"},…]}
//	<first 8 bytes of the JSON's SHA-256, in hex>

const cookieFormat = "usersync-ldap-feed/1"

type feedCookie struct {
	Parts []cookiePart `json:"parts"`
}

type cookiePart struct {
	Type   directory.EntryType `json:"type"`
	Base   string              `json:"base"`
	Filter string              `json:"filter"`
	Server []byte              `json:"server"`
}

func encodeCookie(parts []cookiePart) []byte {
	return sealCookie(cookieFormat, feedCookie{Parts: parts})
}

func decodeCookie(b []byte) ([]cookiePart, error) {
	var c feedCookie
	if err := openCookie(cookieFormat, b, &c); err != nil {
		return nil, err
	}
	return c.Parts, nil
}

// sealCookie writes v as a cookie of the given format: the format line,
// v as JSON, and a checksum of the JSON.
func sealCookie(format string, v any) []byte {
	payload, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, numbers and bytes always marshal
	}
	sum := sha256.Sum256(payload)
	var b bytes.Buffer
	b.WriteString(format + "\n")
	b.Write(payload)
	b.WriteString("\n" + hex.EncodeToString(sum[:8]))
	return b.Bytes()
}

// openCookie reads a cookie sealCookie wrote with format into v,
// refusing one of another format, or damaged.
func openCookie(format string, b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("there is no cookie")
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) != 3 || string(lines[0]) != format {
		return errors.New("the cookie is not one this version of usersync made for this kind of directory")
	}
	sum := sha256.Sum256(lines[1])
	if hex.EncodeToString(sum[:8]) != string(lines[2]) {
		return errors.New("the cookie is damaged (its checksum does not match)")
	}
	if err := json.Unmarshal(lines[1], v); err != nil {
		return fmt.Errorf("the cookie is damaged: %v", err)
	}
	return nil
}

// matchCookie checks that a cookie was taken under the searches the
// configuration makes now.
func matchCookie(held []cookiePart, parts []feedPart) error {
	if err := matchParts(held, parts); err != nil {
		return err
	}
	for _, h := range held {
		if len(h.Server) == 0 {
			return errors.New("the cookie holds no server cookie")
		}
	}
	return nil
}

// matchParts checks that a cookie's searches are the configuration's:
// the same types, bases and filters, in the same order.
func matchParts(held []cookiePart, parts []feedPart) error {
	if len(held) != len(parts) {
		return fmt.Errorf("the cookie holds %d searches, the configuration makes %d", len(held), len(parts))
	}
	for i, p := range parts {
		h := held[i]
		if h.Type != p.typ || !sameDN(h.Base, p.base) || h.Filter != p.filter {
			return fmt.Errorf("the cookie was taken for the %ss under %q with %s; the configuration now reads them under %q with %s", h.Type, h.Base, h.Filter, p.base, p.filter)
		}
	}
	return nil
}

// refusedCookie is the error for a held cookie the configuration or its
// own contents make unusable (why): the sync reads fully instead.
func (d *Directory) refusedCookie(why error) error {
	return fmt.Errorf("%s: %w: %v — usersync reads fully and takes a new cookie", d.label(), directory.ErrCookieRefused, why)
}

// newFeedRead starts one read of the change feed on conn.
func (d *Directory) newFeedRead(conn *session) *feedRead {
	return &feedRead{d: d, conn: conn, index: map[string]int{}, groups: map[string]*goldap.Entry{}, candidates: map[string]bool{}}
}

package importer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// A sync reads only what changed when its directory offers a change feed
// (directory.ChangeFeed) and every group it synchronizes holds a cookie
// from its last complete read. Each group's read is then laid out from the
// store's copy of its members and the changes: changed members replace
// their copies, deleted ones depart (and are disabled), a group whose
// membership changed gets its new member list (members new to the store
// are looked up), and a group with nested groups that changed is read
// whole. The result is a complete read as a full one would be, so the same
// rules apply — the removal threshold, role assignments never changed —
// and the new cookie is stored with each group in the transaction that
// writes its membership. A feed that refuses the cookie makes the sync read
// fully and say so; a feed read that breaks off applies nothing and keeps
// the old cookies.

// readIncremental reads groups through feed. It returns the group inputs
// and a note for the run; ok is false (with the reason in note) when the
// sync must read fully instead. A read of the feed that broke off is an
// error wrapping directory.ErrIncomplete.
func readIncremental(ctx context.Context, st StoreReader, dir directory.Directory, feed directory.ChangeFeed, groups []store.Group) (gis []store.GroupInput, note string, ok bool, err error) {
	byCookie := map[string][]store.Group{}
	var order []string
	for _, g := range groups {
		if len(g.Feed) == 0 {
			return nil, fmt.Sprintf("group %s has no change-feed cookie yet: read fully (the next sync reads only the changes)", g.Name), false, nil
		}
		k := string(g.Feed)
		if _, seen := byCookie[k]; !seen {
			order = append(order, k)
		}
		byCookie[k] = append(byCookie[k], g)
	}
	reads := 0
	var vias []string
	for _, k := range order {
		ch, err := feed.Changes(ctx, []byte(k))
		switch {
		case errors.Is(err, directory.ErrCookieRefused), errors.Is(err, directory.ErrNoFeed):
			return nil, fmt.Sprintf("%s: read fully", err), false, nil
		case err != nil:
			return nil, "", false, err
		}
		reads += ch.Reads
		if ch.Via != "" && !slices.Contains(vias, ch.Via) {
			vias = append(vias, ch.Via)
		}
		cs, err := indexChanges(st, dir.Name(), ch)
		if err != nil {
			return nil, "", false, err
		}
		for _, g := range byCookie[k] {
			if cs.untouched(g) {
				gis = append(gis, store.GroupInput{Cookie: ch.Cookie, Unchanged: true, Read: &directory.GroupRead{Group: groupEntry(g)}})
				continue
			}
			gi, n, err := fromChanges(ctx, st, dir, g, cs)
			if err != nil {
				return nil, "", false, err
			}
			reads += n
			gis = append(gis, gi)
		}
	}
	how := "read incrementally"
	if len(vias) > 0 {
		how += " (" + strings.Join(vias, "; ") + ")"
	}
	return gis, fmt.Sprintf("%s: %d entries from the change feed since the last sync", how, reads), true, nil
}

// changeSet is one read of a change feed, indexed once for all the groups
// it concerns.
type changeSet struct {
	*directory.Changes
	changed map[string]directory.Entry // by external ID
	deleted map[string]bool
	// reread are the groups the changes say to read whole.
	reread map[string]bool
	// touched are the groups holding a changed or deleted user, from the
	// store's own memberships (nil with a present phase, which touches
	// every group).
	touched map[string]bool
}

func indexChanges(st StoreReader, source string, ch *directory.Changes) (*changeSet, error) {
	cs := &changeSet{Changes: ch, changed: make(map[string]directory.Entry, len(ch.Entries)), deleted: make(map[string]bool, len(ch.Deleted))}
	ids := append([]string(nil), ch.Deleted...)
	for _, e := range ch.Entries {
		cs.changed[e.ExternalID] = e
		if e.Type == directory.TypeUser {
			ids = append(ids, e.ExternalID)
		}
	}
	for _, id := range ch.Deleted {
		cs.deleted[id] = true
	}
	cs.reread = make(map[string]bool, len(ch.Reread))
	for _, id := range ch.Reread {
		cs.reread[id] = true
	}
	if !ch.Presence() {
		var err error
		if cs.touched, err = st.GroupsHolding(source, ids); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// gone reports whether the directory no longer has the entry id.
func (cs *changeSet) gone(id string) bool {
	return cs.deleted[id] || (cs.Presence() && !cs.Present[id])
}

// untouched reports whether nothing in the changes concerns group g: not
// the group, its membership, its nested groups, nor any of its members.
func (cs *changeSet) untouched(g store.Group) bool {
	if cs.touched == nil || cs.touched[g.ExternalID] || cs.reread[g.ExternalID] {
		return false
	}
	for _, id := range append([]string{g.ExternalID}, g.Nested...) {
		_, members := cs.Members[id]
		_, added := cs.MembersAdded[id]
		_, removed := cs.MembersRemoved[id]
		_, changed := cs.changed[id]
		if members || added || removed || changed || cs.deleted[id] {
			return false
		}
	}
	return true
}

// groupEntry is g as its directory last described it.
func groupEntry(g store.Group) directory.Entry {
	return directory.Entry{Type: directory.TypeGroup, ExternalID: g.ExternalID, Name: g.Name, DN: g.DN, MemberCount: -1}
}

// fromChanges lays out one group's read from the store's copy of its
// members and the changes; n counts the entries read besides the feed.
func fromChanges(ctx context.Context, st StoreReader, dir directory.Directory, g store.Group, cs *changeSet) (store.GroupInput, int, error) {
	ch, changed, gone := cs.Changes, cs.changed, cs.gone
	// A group with nested groups that changed is read whole: its members
	// come from groups the store does not keep.
	nestedChanged := false
	for _, id := range g.Nested {
		if _, ok := changed[id]; ok || gone(id) {
			nestedChanged = true
		}
	}
	for _, list := range [][]string{ch.Members[g.ExternalID], ch.MembersAdded[g.ExternalID]} {
		for _, id := range list {
			if e, ok := changed[id]; ok && e.Type == directory.TypeGroup {
				nestedChanged = true
			}
		}
	}
	for _, id := range ch.MembersRemoved[g.ExternalID] {
		if slices.Contains(g.Nested, id) {
			nestedChanged = true // a nested group left the group
		}
	}
	// So is a group whose membership the changes cannot tell (an AD
	// primary group).
	if nestedChanged || gone(g.ExternalID) || cs.reread[g.ExternalID] {
		gi, err := ReadGroup(ctx, st, dir, g.ExternalID)
		if err != nil {
			return store.GroupInput{}, 0, err
		}
		if gi.Read.Complete() {
			gi.Cookie = ch.Cookie
		}
		return gi, len(gi.Read.Members), nil
	}

	if _, full := ch.Members[g.ExternalID]; !full && !ch.Presence() {
		return partialFromChanges(ctx, st, dir, g, cs)
	}
	current, err := st.MemberEntries(dir.Name(), g.ExternalID)
	if err != nil {
		return store.GroupInput{}, 0, err
	}
	read := cs.groupRead(g)
	held := map[string]directory.Entry{}
	for _, e := range current {
		held[e.ExternalID] = e
	}
	var ids []string
	if members, ok := ch.Members[g.ExternalID]; ok {
		ids = members // the group's membership changed: its members now
	} else {
		// The members held, with the deltas a directory may send instead
		// (Entra's members@delta).
		removed := map[string]bool{}
		for _, id := range ch.MembersRemoved[g.ExternalID] {
			removed[id] = true
		}
		for _, e := range current {
			if !removed[e.ExternalID] {
				ids = append(ids, e.ExternalID)
			}
		}
		for _, id := range ch.MembersAdded[g.ExternalID] {
			if _, ok := held[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	var missing, kept []string
	for _, id := range ids {
		if gone(id) {
			continue
		}
		if e, ok := changed[id]; ok {
			if e.Type == directory.TypeUser {
				read.Members = append(read.Members, e)
			}
			continue
		}
		if _, ok := held[id]; ok {
			kept = append(kept, id) // a member still, its entry unchanged
			continue
		}
		missing = append(missing, id)
	}
	if err := lookupNew(ctx, dir, g, missing, read); err != nil {
		return store.GroupInput{}, 0, err
	}
	n := len(missing)
	gi := store.GroupInput{Read: read, Cookie: ch.Cookie, Kept: kept}
	for id := range held {
		if gone(id) {
			gi.Deleted = append(gi.Deleted, id)
		}
	}
	return gi, n, nil
}

// partialFromChanges lays out a group whose member list the feed does not
// send whole: its changed members (new entries), the members added (looked
// up when the feed does not carry them), and the members that left
// (removed from it, or deleted) — without reading the members that did not
// change.
func partialFromChanges(ctx context.Context, st StoreReader, dir directory.Directory, g store.Group, cs *changeSet) (store.GroupInput, int, error) {
	ch, changed, gone := cs.Changes, cs.changed, cs.gone
	removed := map[string]bool{}
	for _, id := range ch.MembersRemoved[g.ExternalID] {
		removed[id] = true
	}
	var candidates []string
	for _, e := range ch.Entries {
		if e.Type == directory.TypeUser {
			candidates = append(candidates, e.ExternalID)
		}
	}
	candidates = append(candidates, ch.Deleted...)
	candidates = append(candidates, ch.MembersRemoved[g.ExternalID]...)
	candidates = append(candidates, ch.MembersAdded[g.ExternalID]...)
	member, err := st.MembersAmong(dir.Name(), g.ExternalID, candidates)
	if err != nil {
		return store.GroupInput{}, 0, err
	}
	read := cs.groupRead(g)
	gi := store.GroupInput{Cookie: ch.Cookie, Partial: true, Read: read}
	listed := map[string]bool{}
	for _, e := range ch.Entries {
		if e.Type == directory.TypeUser && member[e.ExternalID] && !removed[e.ExternalID] && !gone(e.ExternalID) {
			read.Members = append(read.Members, e)
			listed[e.ExternalID] = true
		}
	}
	var missing []string
	for _, id := range ch.MembersAdded[g.ExternalID] {
		switch e, ok := changed[id]; {
		case gone(id) || listed[id]:
		case ok && e.Type == directory.TypeUser:
			read.Members = append(read.Members, e)
			listed[id] = true
		case ok: // a nested group: fromChanges reads such a group whole
		case !member[id]:
			missing = append(missing, id)
		}
	}
	if err := lookupNew(ctx, dir, g, missing, read); err != nil {
		return store.GroupInput{}, 0, err
	}
	n := len(missing)
	for id := range member {
		switch {
		case gone(id):
			gi.Departed = append(gi.Departed, id)
			gi.Deleted = append(gi.Deleted, id)
		case removed[id]:
			gi.Departed = append(gi.Departed, id)
		}
	}
	return gi, n, nil
}

// lookupNew reads the new members of g that the store does not hold and
// the changes did not carry, and adds those the directory still has to
// read.
func lookupNew(ctx context.Context, dir directory.Directory, g store.Group, missing []string, read *directory.GroupRead) error {
	if len(missing) == 0 {
		return nil
	}
	found, err := dir.LookupUsers(ctx, missing)
	if err != nil {
		return fmt.Errorf("read the new members of group %s: %w", g.Name, err)
	}
	for _, id := range missing {
		if e, ok := found[id]; ok {
			read.Members = append(read.Members, e)
		}
	}
	return nil
}

// groupRead starts g's read: the group as the changes describe it, else as
// the store holds it, with its nested groups.
func (cs *changeSet) groupRead(g store.Group) *directory.GroupRead {
	read := &directory.GroupRead{Group: groupEntry(g), Nested: g.Nested}
	if e, ok := cs.changed[g.ExternalID]; ok {
		read.Group = e
	}
	return read
}

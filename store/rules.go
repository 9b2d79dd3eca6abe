package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/usersync/usersync/directory"
)

// The import rules, in one place. decideUser and decideGroup say what
// happens to one entry read from a directory and make it happen in a kv:
// Apply runs them in its write transactions, Plan runs them over an
// in-memory overlay of a read transaction, so a plan is exactly what an
// apply would do. classify is the same first steps, without writing, for
// search results.

// Reasons the rules give, for the completion report.
const (
	reasonNotUpdating    = "updating existing users not selected"
	reasonNotAdding      = "adding new users not selected"
	reasonNoEmail        = "no email address"
	reasonNoExternalID   = "no external ID"
	reasonGroupInternal  = "Group name already exists as an internal group"
	reasonGroupsNotUpd   = "updating existing groups not selected"
	reasonGroupsNotAdded = "adding new groups not selected"
)

// reasonOtherSource is the reason of a username taken by another source's
// user (or another user of the same source).
func reasonOtherSource(source string) string {
	return "Username already taken by a user from " + source
}

func reasonGroupOtherSource(source string) string {
	return "Group name already taken by a group from " + source
}

// rules holds what the rules need besides the store: the source, the
// options, and the assignments new selected entries get.
type rules struct {
	source string
	opts   Options
	// grant is Options.Roles plus CopyRolesFrom's own assignments, with
	// role names as the store spells them and scopes filled in.
	grant []Assignment
	now   int64
}

// userFor is how a user entry came into the input.
type userFor struct {
	selected bool // selected itself (not only a member of a group)
	// keepEnabled: only incomplete group reads list it, so it must not be
	// disabled on their word.
	keepEnabled string
}

// entryProblem says why a user or group entry cannot be imported at all;
// what is "username" or "group name". A username must pass the PRECIS
// UsernameCaseMapped profile (usernameProblem); a group name, nameProblem.
func entryProblem(e *directory.Entry, what string) string {
	if e.ExternalID == "" {
		return reasonNoExternalID
	}
	if p := valueProblem("external ID", e.ExternalID); p != "" {
		return p
	}
	var p string
	if what == "username" {
		p = usernameProblem(e.Name)
	} else {
		p = nameProblem(what, e.Name)
	}
	if p != "" {
		return p
	}
	for _, f := range [...]struct{ what, v string }{{"display name", e.DisplayName}, {"email address", e.Email}, {"DN", e.DN}} {
		if p := valueProblem(f.what, f.v); p != "" {
			return p
		}
	}
	return ""
}

// decideUser applies the user rules to e and writes the outcome. It returns
// the journal entry and the id of the store user that now stands for e
// from this source (0 when there is none). An error is a failure of the
// store, not of the entry.
func (r *rules) decideUser(s kv, e *directory.Entry, how userFor) (RunEntry, uint64, error) {
	ent := RunEntry{Name: e.Name, Type: directory.TypeUser}
	fail := func(reason string) (RunEntry, uint64, error) {
		ent.Action, ent.Reason = ActionFailed, reason
		return ent, 0, nil
	}
	if e.Type == directory.TypeGroup {
		return fail("a group, not a user: import it as a group")
	}
	if p := entryProblem(e, "username"); p != "" {
		return fail(p)
	}
	if r.opts.RequireEmail && strings.TrimSpace(e.Email) == "" {
		return fail(reasonNoEmail)
	}

	// 1. Imported before from this source.
	if id := userIDByExt(s, r.source, e.ExternalID); id != 0 {
		old, err := getUser(s, id)
		if err != nil {
			return ent, 0, err
		}
		nu := *old
		nu.DisplayName, nu.Email, nu.DN, nu.Guest = e.DisplayName, e.Email, e.DN, e.Guest
		if !old.Linked {
			nu.Username = e.Name
		}
		note := r.enabledOnUpdate(&nu, e, how)
		changed := userChanges(old, &nu)
		if len(changed) == 0 {
			ent.Action, ent.Reason = ActionUnchanged, note
			if note != "" {
				ent.Action = ActionSkipped
			}
			return ent, id, nil
		}
		if !r.opts.UpdateExisting {
			ent.Action, ent.Reason = ActionSkipped, reasonNotUpdating
			return ent, id, nil
		}
		if f := Fold(nu.Username); f != Fold(old.Username) {
			if other := userIDByName(s, f); other != 0 && other != id {
				ou, err := getUser(s, other)
				if err != nil {
					return ent, 0, err
				}
				ent.Action = ActionFailed
				ent.Reason = fmt.Sprintf("cannot rename %s to %s: the username is taken by %s", old.Username, e.Name, describeUser(ou))
				return ent, id, nil
			}
		}
		nu.Modified, nu.Synced = r.now, r.now
		if err := putUser(s, id, old, &nu); err != nil {
			return ent, 0, err
		}
		ent.Action, ent.Reason = ActionUpdated, join("changed: "+strings.Join(changed, ", "), note)
		return ent, id, nil
	}

	// 2. The same person, known by email address.
	if r.opts.MatchByEmail && strings.TrimSpace(e.Email) != "" {
		ids, err := userIDsByEmail(s, foldEmail(e.Email), 4)
		if err != nil {
			return ent, 0, err
		}
		switch {
		case len(ids) == 1:
			old, err := getUser(s, ids[0])
			if err != nil {
				return ent, 0, err
			}
			if !r.opts.UpdateExisting {
				ent.Action = ActionSkipped
				ent.Reason = fmt.Sprintf("matches existing user %s by email; updating not selected", old.Username)
				return ent, 0, nil
			}
			nu := *old
			nu.Kind, nu.Source, nu.ExternalID, nu.Linked = External, r.source, e.ExternalID, true
			nu.DisplayName, nu.Email, nu.DN, nu.Guest = e.DisplayName, e.Email, e.DN, e.Guest
			note := r.enabledOnUpdate(&nu, e, how)
			nu.Modified, nu.Synced = r.now, r.now
			if err := putUser(s, ids[0], old, &nu); err != nil {
				return ent, 0, err
			}
			ent.Action, ent.Reason = ActionUpdated, join("linked to existing user "+old.Username+" by email", note)
			return ent, ids[0], nil
		case len(ids) > 1:
			names := make([]string, 0, len(ids))
			for _, id := range ids[:min(len(ids), 3)] {
				u, err := getUser(s, id)
				if err != nil {
					return ent, 0, err
				}
				names = append(names, u.Username)
			}
			if len(ids) > 3 {
				names = append(names, "…")
			}
			return fail(fmt.Sprintf("email address %s matches several existing users (%s): ambiguous, link one by hand", e.Email, strings.Join(names, ", ")))
		}
	}

	// 3. The username, case-folded.
	if id := userIDByName(s, Fold(e.Name)); id != 0 {
		u, err := getUser(s, id)
		if err != nil {
			return ent, 0, err
		}
		ent.Action = ActionSkipped
		if u.Kind == Internal {
			ent.Block, ent.Reason = BlockedInternal, ReasonInternal
		} else {
			ent.Block, ent.Reason = BlockedSource, reasonOtherSource(u.Source)
		}
		return ent, 0, nil
	}
	if !r.opts.AddNew {
		ent.Action, ent.Reason = ActionSkipped, reasonNotAdding
		return ent, 0, nil
	}
	id, err := s.nextSeq(bUsers)
	if err != nil {
		return ent, 0, err
	}
	u := &userRec{
		Username: e.Name, DisplayName: e.DisplayName, Email: e.Email,
		Kind: External, Source: r.source, ExternalID: e.ExternalID, DN: e.DN,
		Enabled: r.opts.Enable && !e.Disabled, Guest: e.Guest,
		Created: r.now, Synced: r.now, Modified: r.now,
	}
	if how.selected && len(r.grant) > 0 {
		u.Roles = append([]Assignment(nil), r.grant...)
	}
	if err := putUser(s, id, nil, u); err != nil {
		return ent, 0, err
	}
	ent.Action = ActionCreated
	if e.Disabled {
		ent.Reason = "disabled in the directory"
	}
	return ent, id, nil
}

// enabledOnUpdate sets whether an updated user is enabled: disabled in the
// directory → disabled (unless only incomplete reads say so); else enabled
// when the options say so; else as it was. It returns a note for the
// report when it refused to disable.
func (r *rules) enabledOnUpdate(nu *userRec, e *directory.Entry, how userFor) string {
	switch {
	case e.Disabled && nu.Enabled && how.keepEnabled != "":
		return how.keepEnabled + "; not disabled"
	case e.Disabled:
		nu.Enabled = false
	case r.opts.Enable:
		nu.Enabled = true
	}
	return ""
}

// userChanges names the fields that differ between two records of a user.
func userChanges(a, b *userRec) []string {
	var f []string
	if a.Username != b.Username {
		f = append(f, "username")
	}
	if a.DisplayName != b.DisplayName {
		f = append(f, "display_name")
	}
	if a.Email != b.Email {
		f = append(f, "email")
	}
	if a.DN != b.DN {
		f = append(f, "dn")
	}
	if a.Enabled != b.Enabled {
		f = append(f, "enabled")
	}
	if a.Guest != b.Guest {
		f = append(f, "guest")
	}
	return f
}

// decideGroup applies the group rules to a group entry and writes the
// outcome; it returns the journal entry and the id of the store group that
// now stands for it from this source, if its membership may be synced.
func (r *rules) decideGroup(s kv, e *directory.Entry) (RunEntry, uint64, error) {
	ent := RunEntry{Name: e.Name, Type: directory.TypeGroup}
	if p := entryProblem(e, "group name"); p != "" {
		ent.Action, ent.Reason = ActionFailed, p
		return ent, 0, nil
	}
	if id := groupIDByExt(s, r.source, e.ExternalID); id != 0 {
		old, err := getGroup(s, id)
		if err != nil {
			return ent, 0, err
		}
		nu := *old
		nu.Name, nu.DN = e.Name, e.DN
		var changed []string
		if old.Name != nu.Name {
			changed = append(changed, "name")
		}
		if old.DN != nu.DN {
			changed = append(changed, "dn")
		}
		switch {
		case len(changed) == 0:
			ent.Action = ActionUnchanged
			return ent, id, nil
		case !r.opts.UpdateExisting:
			ent.Action, ent.Reason = ActionSkipped, reasonGroupsNotUpd
			return ent, id, nil
		}
		if f := Fold(nu.Name); f != Fold(old.Name) {
			if other := groupIDByName(s, f); other != 0 && other != id {
				og, err := getGroup(s, other)
				if err != nil {
					return ent, 0, err
				}
				ent.Action = ActionFailed
				ent.Reason = fmt.Sprintf("cannot rename group %s to %s: the name is taken by %s; its members were not changed", old.Name, e.Name, describeGroup(og))
				return ent, 0, nil
			}
		}
		if err := putGroup(s, id, old, &nu); err != nil {
			return ent, 0, err
		}
		ent.Action, ent.Reason = ActionUpdated, "changed: "+strings.Join(changed, ", ")
		return ent, id, nil
	}
	if id := groupIDByName(s, Fold(e.Name)); id != 0 {
		g, err := getGroup(s, id)
		if err != nil {
			return ent, 0, err
		}
		ent.Action = ActionSkipped
		if g.Kind == Internal {
			ent.Block, ent.Reason = BlockedInternal, reasonGroupInternal
		} else {
			ent.Block, ent.Reason = BlockedSource, reasonGroupOtherSource(g.Source)
		}
		return ent, 0, nil
	}
	if !r.opts.AddNew {
		ent.Action, ent.Reason = ActionSkipped, reasonGroupsNotAdded
		return ent, 0, nil
	}
	id, err := s.nextSeq(bGroups)
	if err != nil {
		return ent, 0, err
	}
	g := &groupRec{
		Name: e.Name, Kind: External, Source: r.source, ExternalID: e.ExternalID, DN: e.DN,
		Roles: append([]Assignment(nil), r.grant...), Created: r.now, Synced: r.now,
	}
	if len(g.Roles) == 0 {
		g.Roles = nil
	}
	if err := putGroup(s, id, nil, g); err != nil {
		return ent, 0, err
	}
	ent.Action = ActionCreated
	return ent, id, nil
}

// classify is what selecting e in the wizard would do, read from s.
func classify(s kv, source string, e *directory.Entry) (Status, error) {
	what := "username"
	if e.Type == directory.TypeGroup {
		what = "group name"
	}
	if p := entryProblem(e, what); p != "" {
		return Status{State: StateInvalid, Reason: p}, nil
	}
	if e.Type == directory.TypeGroup {
		if e.ExternalID != "" {
			if id := groupIDByExt(s, source, e.ExternalID); id != 0 {
				g, err := getGroup(s, id)
				if err != nil {
					return Status{}, err
				}
				return Status{State: StateImported, Existing: g.Name}, nil
			}
		}
		if id := groupIDByName(s, Fold(e.Name)); id != 0 {
			g, err := getGroup(s, id)
			if err != nil {
				return Status{}, err
			}
			if g.Kind == Internal {
				return Status{State: StateBlockedInternal, Reason: reasonGroupInternal, Existing: g.Name}, nil
			}
			return Status{State: StateBlockedSource, Reason: reasonGroupOtherSource(g.Source), Existing: g.Name}, nil
		}
		return Status{State: StateNew}, nil
	}
	if e.ExternalID != "" {
		if id := userIDByExt(s, source, e.ExternalID); id != 0 {
			u, err := getUser(s, id)
			if err != nil {
				return Status{}, err
			}
			return Status{State: StateImported, Existing: u.Username}, nil
		}
	}
	if id := userIDByName(s, Fold(e.Name)); id != 0 {
		u, err := getUser(s, id)
		if err != nil {
			return Status{}, err
		}
		if u.Kind == Internal {
			return Status{State: StateBlockedInternal, Reason: ReasonInternal, Existing: u.Username}, nil
		}
		return Status{State: StateBlockedSource, Reason: reasonOtherSource(u.Source), Existing: u.Username}, nil
	}
	return Status{State: StateNew}, nil
}

// State is how an entry found in a directory stands against the store: what
// selecting it in the wizard would do.
type State string

// The states of a search result.
const (
	StateNew             State = "new"              // Select to import
	StateImported        State = "imported"         // Select to synchronize
	StateBlockedInternal State = "blocked-internal" // an internal user has that name
	StateBlockedSource   State = "blocked-source"   // another source's user/group has that name
	StateInvalid         State = "invalid"          // the entry cannot be imported: Reason says why
)

// Status is the state of one search result, with the reason shown for a
// blocked or invalid row (ReasonInternal, "Username already taken by a user
// from <source>", or why the entry would fail, such as a username the PRECIS
// profile refuses) and the store's name of the matching record, if any.
type Status struct {
	State    State
	Reason   string
	Existing string
}

// Classify tells, for each entry read from source, what importing it would
// do. It reads the store only.
func (s *Store) Classify(source string, entries []directory.Entry) ([]Status, error) {
	out := make([]Status, len(entries))
	err := s.view(func(t *txKV) error {
		for i := range entries {
			st, err := classify(t, source, &entries[i])
			if err != nil {
				return fmt.Errorf("classify %s: %w", entries[i].Name, err)
			}
			out[i] = st
		}
		return nil
	})
	return out, err
}

// FieldDiff is one field of an entry that differs between directory and store.
type FieldDiff struct {
	Field     string // "username", "display_name", "email", "dn", "enabled"
	Directory string
	Store     string
}

// Diff lists the fields an import of e would change in the store record
// imported before from source; empty when nothing would change, ErrNotFound
// when e was never imported. A user disabled in the directory shows as an
// "enabled" difference; whether an enabled directory user gets enabled
// depends on the import's options, so that is not shown. Groups differ by
// "name" and "dn".
func (s *Store) Diff(source string, e directory.Entry) ([]FieldDiff, error) {
	d := []FieldDiff{}
	err := s.view(func(t *txKV) error {
		add := func(field, dir, st string) {
			if dir != st {
				d = append(d, FieldDiff{Field: field, Directory: dir, Store: st})
			}
		}
		if e.Type == directory.TypeGroup {
			id := groupIDByExt(t, source, e.ExternalID)
			if id == 0 || e.ExternalID == "" {
				return fmt.Errorf("group %s was never imported from %s: %w", e.Name, source, ErrNotFound)
			}
			g, err := getGroup(t, id)
			if err != nil {
				return err
			}
			add("name", e.Name, g.Name)
			add("dn", e.DN, g.DN)
			return nil
		}
		id := userIDByExt(t, source, e.ExternalID)
		if id == 0 || e.ExternalID == "" {
			return fmt.Errorf("user %s was never imported from %s: %w", e.Name, source, ErrNotFound)
		}
		u, err := getUser(t, id)
		if err != nil {
			return err
		}
		if !u.Linked {
			add("username", e.Name, u.Username)
		}
		add("display_name", e.DisplayName, u.DisplayName)
		add("email", e.Email, u.Email)
		add("dn", e.DN, u.DN)
		if e.Disabled && u.Enabled {
			add("enabled", "false", "true")
		}
		add("guest", strconv.FormatBool(e.Guest), strconv.FormatBool(u.Guest))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Departed lists the external IDs of the store's members of the group read
// (matched by source and the group's external ID) that the read no longer
// lists. A sync asks the directory which of them still exist: those that do
// not are passed back as GroupInput.Deleted.
func (s *Store) Departed(source string, read *directory.GroupRead) ([]string, error) {
	if read == nil {
		return nil, fmt.Errorf("%w: no group read", ErrInvalid)
	}
	listed := make(map[string]bool, len(read.Members))
	for _, m := range read.Members {
		listed[m.ExternalID] = true
	}
	var out []string
	err := s.view(func(t *txKV) error {
		gid := groupIDByExt(t, source, read.Group.ExternalID)
		if gid == 0 || read.Group.ExternalID == "" {
			return nil
		}
		uids, err := members(t, gid)
		if err != nil {
			return err
		}
		for _, uid := range uids {
			u, err := getUser(t, uid)
			if err != nil {
				return err
			}
			if u.Kind == External && u.Source == source && !listed[u.ExternalID] {
				out = append(out, u.ExternalID)
			}
		}
		return nil
	})
	return out, err
}

// join joins the non-empty parts of a reason.
func join(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}

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
// apply would do. Classify and Diff run them too, for one entry alone over
// an overlay, and read their answers off the verdict.

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
	// enableNew: a group it joins was imported with Enable, and this run
	// is a sync of it: a new user is created enabled.
	enableNew bool
}

// verdict is what the rules decided for one entry: the journal entry, the
// store record that now stands for the entry (0: none), and the record
// before and after (old is nil for a new record or when none matched;
// blocker is the record that blocked the entry). Classify and Diff are
// read off verdicts, so they say what Plan and Apply do.
type verdict struct {
	ent       RunEntry
	id        uint64
	old, nu   *userRec
	oldG, nuG *groupRec
	blocker   string // the store's name of the record that blocked the entry
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

// decideUser applies the user rules to e and writes the outcome. Its
// verdict holds the journal entry and the id of the store user that now
// stands for e from this source (0 when there is none). An error is a
// failure of the store, not of the entry.
func (r *rules) decideUser(s kv, e *directory.Entry, how userFor) (verdict, error) {
	v := verdict{ent: RunEntry{Name: e.Name, Type: directory.TypeUser}}
	ent := &v.ent
	fail := func(reason string) (verdict, error) {
		ent.Action, ent.Reason = ActionFailed, reason
		v.id = 0
		return v, nil
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
			return v, err
		}
		nu := *old
		nu.DisplayName, nu.Email, nu.DN, nu.Guest = e.DisplayName, e.Email, e.DN, e.Guest
		if !old.Linked {
			nu.Username = e.Name
		}
		note := r.enabledOnUpdate(&nu, e, how)
		v.id, v.old, v.nu = id, old, &nu
		changed := userChanges(old, &nu)
		if len(changed) == 0 {
			ent.Action, ent.Reason = ActionUnchanged, note
			if note != "" {
				ent.Action = ActionSkipped
			}
			return v, nil
		}
		if !r.opts.UpdateExisting {
			ent.Action, ent.Reason = ActionSkipped, reasonNotUpdating
			return v, nil
		}
		if f := Fold(nu.Username); f != Fold(old.Username) {
			if other := userIDByName(s, f); other != 0 && other != id {
				ou, err := getUser(s, other)
				if err != nil {
					return v, err
				}
				ent.Action = ActionFailed
				ent.Reason = fmt.Sprintf("cannot rename %s to %s: the username is taken by %s", old.Username, e.Name, describeUser(ou))
				v.blocker = ou.Username
				return v, nil
			}
		}
		nu.Modified, nu.Synced = r.now, r.now
		if err := putUser(s, id, old, &nu); err != nil {
			return v, err
		}
		ent.Action, ent.Reason = ActionUpdated, join("changed: "+strings.Join(changed, ", "), note)
		return v, nil
	}

	// 2. The same person, known by email address.
	if r.opts.MatchByEmail && strings.TrimSpace(e.Email) != "" {
		ids, err := userIDsByEmail(s, foldEmail(e.Email), 4)
		if err != nil {
			return v, err
		}
		switch {
		case len(ids) == 1:
			old, err := getUser(s, ids[0])
			if err != nil {
				return v, err
			}
			if !r.opts.UpdateExisting {
				ent.Action = ActionSkipped
				ent.Reason = fmt.Sprintf("matches existing user %s by email; updating not selected", old.Username)
				v.blocker = old.Username
				return v, nil
			}
			nu := *old
			nu.Kind, nu.Source, nu.ExternalID, nu.Linked = External, r.source, e.ExternalID, true
			nu.DisplayName, nu.Email, nu.DN, nu.Guest = e.DisplayName, e.Email, e.DN, e.Guest
			note := r.enabledOnUpdate(&nu, e, how)
			nu.Modified, nu.Synced = r.now, r.now
			if err := putUser(s, ids[0], old, &nu); err != nil {
				return v, err
			}
			v.id, v.old, v.nu = ids[0], old, &nu
			ent.Action, ent.Reason = ActionUpdated, join("linked to existing user "+old.Username+" by email", note)
			return v, nil
		case len(ids) > 1:
			names := make([]string, 0, len(ids))
			for _, id := range ids[:min(len(ids), 3)] {
				u, err := getUser(s, id)
				if err != nil {
					return v, err
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
			return v, err
		}
		ent.Action, v.blocker = ActionSkipped, u.Username
		if u.Kind == Internal {
			ent.Block, ent.Reason = BlockedInternal, ReasonInternal
		} else {
			ent.Block, ent.Reason = BlockedSource, reasonOtherSource(u.Source)
		}
		return v, nil
	}
	if !r.opts.AddNew {
		ent.Action, ent.Reason = ActionSkipped, reasonNotAdding
		return v, nil
	}
	id, err := s.nextSeq(bUsers)
	if err != nil {
		return v, err
	}
	u := &userRec{
		Username: e.Name, DisplayName: e.DisplayName, Email: e.Email,
		Kind: External, Source: r.source, ExternalID: e.ExternalID, DN: e.DN,
		Enabled: (r.opts.Enable || how.enableNew) && !e.Disabled, Guest: e.Guest,
		Created: r.now, Synced: r.now, Modified: r.now,
	}
	if how.selected && len(r.grant) > 0 {
		u.Roles = append([]Assignment(nil), r.grant...)
	}
	if err := putUser(s, id, nil, u); err != nil {
		return v, err
	}
	v.id, v.nu = id, u
	ent.Action = ActionCreated
	if e.Disabled {
		ent.Reason = "disabled in the directory"
	}
	return v, nil
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
		nu.Enabled = true // (a sync's remembered Enable is for new members only)
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
// outcome; its verdict holds the journal entry and the id of the store
// group that now stands for it from this source, if its membership may be
// synced. An import (not a sync) remembers its choices in the group
// (GroupImport), for the group's later syncs.
func (r *rules) decideGroup(s kv, e *directory.Entry) (verdict, error) {
	v := verdict{ent: RunEntry{Name: e.Name, Type: directory.TypeGroup}}
	ent := &v.ent
	if p := entryProblem(e, "group name"); p != "" {
		ent.Action, ent.Reason = ActionFailed, p
		return v, nil
	}
	remember := &GroupImport{Enable: r.opts.Enable, MatchByEmail: r.opts.MatchByEmail, RequireEmail: r.opts.RequireEmail}
	if id := groupIDByExt(s, r.source, e.ExternalID); id != 0 {
		old, err := getGroup(s, id)
		if err != nil {
			return v, err
		}
		nu := *old
		nu.Name, nu.DN = e.Name, e.DN
		v.id, v.oldG, v.nuG = id, old, &nu
		var changed []string
		if old.Name != nu.Name {
			changed = append(changed, "name")
		}
		if old.DN != nu.DN {
			changed = append(changed, "dn")
		}
		// A new import of the group replaces the choices it remembers
		// (not a change of the group's directory fields).
		rememberNew := !r.opts.Sync && (old.Import == nil || *old.Import != *remember)
		if rememberNew {
			nu.Import = remember
		}
		switch {
		case len(changed) == 0 && !rememberNew:
			ent.Action = ActionUnchanged
			return v, nil
		case len(changed) == 0:
			ent.Action = ActionUnchanged
			return v, putGroup(s, id, old, &nu)
		case !r.opts.UpdateExisting:
			ent.Action, ent.Reason = ActionSkipped, reasonGroupsNotUpd
			return v, nil
		}
		if f := Fold(nu.Name); f != Fold(old.Name) {
			if other := groupIDByName(s, f); other != 0 && other != id {
				og, err := getGroup(s, other)
				if err != nil {
					return v, err
				}
				ent.Action, v.blocker, v.id = ActionFailed, og.Name, 0
				ent.Reason = fmt.Sprintf("cannot rename group %s to %s: the name is taken by %s; its members were not changed", old.Name, e.Name, describeGroup(og))
				return v, nil
			}
		}
		if err := putGroup(s, id, old, &nu); err != nil {
			return v, err
		}
		ent.Action, ent.Reason = ActionUpdated, "changed: "+strings.Join(changed, ", ")
		return v, nil
	}
	if id := groupIDByName(s, Fold(e.Name)); id != 0 {
		g, err := getGroup(s, id)
		if err != nil {
			return v, err
		}
		ent.Action, v.blocker = ActionSkipped, g.Name
		if g.Kind == Internal {
			ent.Block, ent.Reason = BlockedInternal, reasonGroupInternal
		} else {
			ent.Block, ent.Reason = BlockedSource, reasonGroupOtherSource(g.Source)
		}
		return v, nil
	}
	if !r.opts.AddNew {
		ent.Action, ent.Reason = ActionSkipped, reasonGroupsNotAdded
		return v, nil
	}
	id, err := s.nextSeq(bGroups)
	if err != nil {
		return v, err
	}
	g := &groupRec{
		Name: e.Name, Kind: External, Source: r.source, ExternalID: e.ExternalID, DN: e.DN,
		Roles: append([]Assignment(nil), r.grant...), Created: r.now, Synced: r.now, Import: remember,
	}
	if len(g.Roles) == 0 {
		g.Roles = nil
	}
	if err := putGroup(s, id, nil, g); err != nil {
		return v, err
	}
	v.id, v.nuG = id, g
	ent.Action = ActionCreated
	return v, nil
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

// classifyOptions are the choices Classify and Diff assume: the wizard's
// defaults (add new entries, refresh those imported before).
var classifyOptions = Options{AddNew: true, UpdateExisting: true}

// decideAlone runs the rules for e alone, as a selected entry of an import
// (with classifyOptions, for Classify and Diff), over o (reset first), and
// returns the verdict.
func (r *rules) decideAlone(o *overlayKV, e *directory.Entry) (verdict, error) {
	o.reset()
	if e.Type == directory.TypeGroup {
		return r.decideGroup(o, e)
	}
	return r.decideUser(o, e, userFor{selected: true})
}

// statusOf reads a search result's state off the rules' verdict.
func statusOf(v verdict) Status {
	switch v.ent.Action {
	case ActionCreated:
		return Status{State: StateNew}
	case ActionUpdated, ActionUnchanged:
		st := Status{State: StateImported}
		if v.old != nil {
			st.Existing = v.old.Username
		} else if v.oldG != nil {
			st.Existing = v.oldG.Name
		}
		return st
	case ActionSkipped:
		switch v.ent.Block {
		case BlockedInternal:
			return Status{State: StateBlockedInternal, Reason: v.ent.Reason, Existing: v.blocker}
		case BlockedSource:
			return Status{State: StateBlockedSource, Reason: v.ent.Reason, Existing: v.blocker}
		}
	}
	return Status{State: StateInvalid, Reason: v.ent.Reason, Existing: v.blocker}
}

// Classify tells, for each entry read from source, what selecting it for
// an import would do: the import rules' own decision for the entry alone,
// run dry. It reads the store only.
func (s *Store) Classify(source string, entries []directory.Entry) ([]Status, error) {
	out := make([]Status, len(entries))
	r := &rules{source: source, opts: classifyOptions, now: s.now().UnixNano()}
	err := s.view(func(t *txKV) error {
		o := newOverlayKV(t)
		for i := range entries {
			v, err := r.decideAlone(o, &entries[i])
			if err != nil {
				return fmt.Errorf("classify %s: %w", entries[i].Name, err)
			}
			out[i] = statusOf(v)
		}
		return nil
	})
	return out, err
}

// FieldDiff is one field of an entry that differs between directory and store.
type FieldDiff struct {
	Field     string // "username", "display_name", "email", "dn", "enabled", "guest"; groups: "name", "dn"
	Directory string
	Store     string
}

// Diff lists the fields an import of e would change in the store record
// imported before from source — the import rules' own decision, run dry —
// empty when nothing would change, ErrNotFound when e was never imported.
// A user disabled in the directory shows as an "enabled" difference;
// whether an enabled directory user gets enabled depends on the import's
// options, so that is not shown.
func (s *Store) Diff(source string, e directory.Entry) ([]FieldDiff, error) {
	d := []FieldDiff{}
	err := s.view(func(t *txKV) error {
		r := &rules{source: source, opts: classifyOptions, now: s.now().UnixNano()}
		v, err := r.decideAlone(newOverlayKV(t), &e)
		if err != nil {
			return err
		}
		switch {
		case v.old != nil && v.nu != nil && v.old.Source == source && v.old.ExternalID == e.ExternalID:
			for _, f := range userChanges(v.old, v.nu) {
				d = append(d, FieldDiff{Field: f, Directory: userField(v.nu, f), Store: userField(v.old, f)})
			}
		case v.oldG != nil && v.nuG != nil:
			if v.oldG.Name != v.nuG.Name {
				d = append(d, FieldDiff{Field: "name", Directory: v.nuG.Name, Store: v.oldG.Name})
			}
			if v.oldG.DN != v.nuG.DN {
				d = append(d, FieldDiff{Field: "dn", Directory: v.nuG.DN, Store: v.oldG.DN})
			}
		default:
			return fmt.Errorf("%s %s was never imported from %s: %w", e.Type, e.Name, source, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// userField is the text of one field userChanges names.
func userField(u *userRec, field string) string {
	switch field {
	case "username":
		return u.Username
	case "display_name":
		return u.DisplayName
	case "email":
		return u.Email
	case "dn":
		return u.DN
	case "enabled":
		return strconv.FormatBool(u.Enabled)
	case "guest":
		return strconv.FormatBool(u.Guest)
	}
	return ""
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

package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/usersync/usersync/directory"
)

// An import or sync is a list of steps, run in order, each step one unit
// of a batch:
//
//  1. one step per group: the group record itself (so that members can
//     join it as they are written);
//  2. one step per user, selected users first, then group members not
//     selected themselves (deduplicated by external ID): the user record,
//     and its joining the input's groups — in the same transaction, so a
//     membership never points at a user that is not there;
//  3. one step per group: departed members removed, deleted users
//     disabled, within the removal threshold, and only on a complete read.
//
// Plan runs the same steps over an in-memory overlay of one read
// transaction; Apply runs them in write transactions of BatchSize steps.

type stepKind uint8

const (
	stepGroup stepKind = iota
	stepUser
	stepGroupMembers
)

type step struct {
	kind  stepKind
	entry *directory.Entry
	// for users: selected itself, and the input's groups listing it.
	selected bool
	groups   []int
	group    int // for group steps: index into runner.groups
}

// groupState is one input group during a run.
type groupState struct {
	in         GroupInput
	entry      *directory.Entry
	listed     map[string]bool // external IDs of the read's members
	incomplete string          // "read incomplete: …" when the read is partial
	// set by the group step:
	id          uint64 // the store group, 0 when its membership is not synced
	syncRemoved bool   // departures may be removed and deleted users disabled
	why         string // why not, for the skipped entries
}

// runner runs the steps of one input.
type runner struct {
	rules
	in     *Input
	steps  []step
	groups []*groupState
	dry    bool // a plan: exceeding the threshold is reported, not refused
}

// newRunner checks the input and lays out its steps; it reads nothing.
func newRunner(in *Input, now time.Time) (*runner, error) {
	if in.Source == "" {
		return nil, fmt.Errorf("%w: an import needs the name of its source", ErrInvalid)
	}
	if err := checkValue("source name", in.Source); err != nil {
		return nil, err
	}
	r := &runner{rules: rules{source: in.Source, opts: in.Options, now: now.UnixNano()}, in: in}
	seenGroup := map[string]bool{}
	for i := range in.Groups {
		gi := in.Groups[i]
		if gi.Read == nil {
			return nil, fmt.Errorf("%w: group %d of the input has no read", ErrInvalid, i+1)
		}
		e := &gi.Read.Group
		if e.ExternalID != "" && seenGroup[e.ExternalID] {
			continue
		}
		seenGroup[e.ExternalID] = true
		g := &groupState{in: gi, entry: e, listed: make(map[string]bool, len(gi.Read.Members))}
		if !gi.Read.Complete() {
			g.incomplete = gi.Read.Incomplete
			if !strings.HasPrefix(g.incomplete, "read incomplete") {
				g.incomplete = "read incomplete: " + g.incomplete
			}
		}
		for _, m := range gi.Read.Members {
			g.listed[m.ExternalID] = true
		}
		r.groups = append(r.groups, g)
		r.steps = append(r.steps, step{kind: stepGroup, entry: e, group: len(r.groups) - 1})
	}
	byExt := map[string]int{} // external ID → index in steps
	for i := range in.Users {
		e := &in.Users[i]
		if j, ok := byExt[e.ExternalID]; ok && e.ExternalID != "" {
			r.steps[j].selected = true
			continue
		}
		byExt[e.ExternalID] = len(r.steps)
		r.steps = append(r.steps, step{kind: stepUser, entry: e, selected: true})
	}
	for gi, g := range r.groups {
		members := g.in.Read.Members
		for i := range members {
			e := &members[i]
			if j, ok := byExt[e.ExternalID]; ok && e.ExternalID != "" {
				if !slices.Contains(r.steps[j].groups, gi) {
					r.steps[j].groups = append(r.steps[j].groups, gi)
				}
				continue
			}
			byExt[e.ExternalID] = len(r.steps)
			r.steps = append(r.steps, step{kind: stepUser, entry: e, groups: []int{gi}})
		}
	}
	for gi, g := range r.groups {
		r.steps = append(r.steps, step{kind: stepGroupMembers, entry: g.entry, group: gi})
	}
	return r, nil
}

// resolve checks the options against the store and works out the
// assignments new selected entries get. Unknown roles or users are errors
// of the whole import.
func (r *runner) resolve(s kv) error {
	seen := map[Assignment]bool{}
	add := func(a Assignment) error {
		role, ok, err := getRole(s, Fold(a.Role))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("unknown role %q (see 'usersync roles list'): %w", a.Role, ErrNotFound)
		}
		a.Role = role.Name
		if a.Scope == "" {
			a.Scope = GlobalScope
		}
		if err := checkValue("scope", a.Scope); err != nil {
			return err
		}
		if !seen[a] {
			seen[a] = true
			r.grant = append(r.grant, a)
		}
		return nil
	}
	r.grant = nil
	for _, a := range r.opts.Roles {
		if err := add(a); err != nil {
			return err
		}
	}
	if name := r.opts.CopyRolesFrom; name != "" {
		id := userIDByName(s, Fold(name))
		if id == 0 {
			return fmt.Errorf("copy roles from %q: no such user: %w", name, ErrNotFound)
		}
		u, err := getUser(s, id)
		if err != nil {
			return err
		}
		for _, a := range u.Roles {
			if err := add(a); err != nil {
				return fmt.Errorf("copy roles from %q: %w", name, err)
			}
		}
	}
	return nil
}

// threshold is the largest number of members of a group of n that a sync
// may remove or disable without Force: removing more than Percent% of the
// group, or more than Max, asks first. The comparison is strict, so in a
// group of 2 removing 1 member (50%) is over a 10% threshold.
func (r *runner) threshold(n int) int {
	t := r.opts.Threshold
	if t.Percent <= 0 {
		t.Percent = DefaultThreshold.Percent
	}
	if t.Max <= 0 {
		t.Max = DefaultThreshold.Max
	}
	pct := int(math.Floor(t.Percent*float64(n)/100 + 1e-9))
	return min(pct, t.Max)
}

// departures lists what syncing group g (store id gid) would do to its
// current members: those the read no longer lists (removed) and the
// enabled users the directory no longer has (disabled), and how many
// members the group has now.
func (r *runner) departures(s kv, g *groupState, gid uint64) (removed, disabled []uint64, n int, err error) {
	cur, err := members(s, gid)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, uid := range cur {
		u, err := getUser(s, uid)
		if err != nil {
			return nil, nil, 0, err
		}
		if u.Kind != External || u.Source != r.source || !g.listed[u.ExternalID] {
			removed = append(removed, uid)
		}
	}
	for _, ext := range g.in.Deleted {
		if ext == "" || g.listed[ext] {
			continue // the read lists it: not deleted, whatever the caller says
		}
		uid := userIDByExt(s, r.source, ext)
		if uid == 0 || slices.Contains(disabled, uid) {
			continue
		}
		u, err := getUser(s, uid)
		if err != nil {
			return nil, nil, 0, err
		}
		if u.Enabled {
			disabled = append(disabled, uid)
		}
	}
	return removed, disabled, len(cur), nil
}

// affected counts the distinct members removed or disabled.
func affected(removed, disabled []uint64) int {
	n := len(removed)
	for _, id := range disabled {
		if !slices.Contains(removed, id) {
			n++
		}
	}
	return n
}

// thresholdProblem checks, before anything is written, every group the
// input syncs against the removal threshold; it returns what a person
// should read when some group exceeds it, or "".
func (r *runner) thresholdProblem(s kv) (string, error) {
	var msgs []string
	for _, g := range r.groups {
		if g.incomplete != "" || g.entry.ExternalID == "" || !r.opts.UpdateExisting {
			continue
		}
		gid := groupIDByExt(s, r.source, g.entry.ExternalID)
		if gid == 0 {
			continue
		}
		removed, disabled, n, err := r.departures(s, g, gid)
		if err != nil {
			return "", err
		}
		if k, limit := affected(removed, disabled), r.threshold(n); k > limit {
			msgs = append(msgs, fmt.Sprintf("sync of group %q would remove or disable %d of %d members (threshold %d)", g.entry.Name, k, n, limit))
		}
	}
	if len(msgs) == 0 {
		return "", nil
	}
	return strings.Join(msgs, "; ") + "; re-run with --force to apply", nil
}

// incompleteProblem says which groups were read incompletely, or "".
func (r *runner) incompleteProblem() string {
	var msgs []string
	for _, g := range r.groups {
		if g.incomplete != "" {
			msgs = append(msgs, fmt.Sprintf("group %q: %s; nothing was removed or disabled", g.entry.Name, g.incomplete))
		}
	}
	return strings.Join(msgs, "; ")
}

// run performs one step in s and appends its journal entries to out.
func (r *runner) run(s kv, st *step, out []RunEntry) ([]RunEntry, error) {
	switch st.kind {
	case stepGroup:
		g := r.groups[st.group]
		ent, id, err := r.decideGroup(s, st.entry)
		if err != nil {
			return out, err
		}
		g.id = id
		switch {
		case id == 0:
			g.why = "group " + st.entry.Name + " " + string(ent.Action)
		case g.incomplete != "":
			g.why = g.incomplete
		case ent.Action != ActionCreated && !r.opts.UpdateExisting:
			g.why = reasonGroupsNotUpd
		default:
			g.syncRemoved = true
		}
		if id != 0 && g.incomplete != "" {
			ent.Reason = join(ent.Reason, g.incomplete+"; nothing removed or disabled")
		}
		return append(out, ent), nil

	case stepUser:
		how := userFor{selected: st.selected}
		if !st.selected && len(st.groups) > 0 {
			how.keepEnabled = r.groups[st.groups[0]].incomplete
			for _, gi := range st.groups {
				if r.groups[gi].incomplete == "" {
					how.keepEnabled = ""
				}
			}
		}
		ent, uid, err := r.decideUser(s, st.entry, how)
		if err != nil {
			return out, err
		}
		if uid != 0 {
			var joined []string
			for _, gi := range st.groups {
				g := r.groups[gi]
				if g.id == 0 || isMember(s, g.id, uid) {
					continue
				}
				if err := addMember(s, g.id, uid); err != nil {
					return out, err
				}
				joined = append(joined, g.entry.Name)
			}
			if len(joined) > 0 {
				note := "added to group " + strings.Join(joined, ", ")
				if ent.Action == ActionUnchanged {
					ent.Action = ActionUpdated
				}
				ent.Reason = join(ent.Reason, note)
			}
		}
		return append(out, ent), nil

	case stepGroupMembers:
		return r.syncMembers(s, r.groups[st.group], out)
	}
	return out, fmt.Errorf("unknown step %d", st.kind)
}

// syncMembers removes a group's departed members and disables its deleted
// ones, when the read was complete and within the threshold.
func (r *runner) syncMembers(s kv, g *groupState, out []RunEntry) ([]RunEntry, error) {
	if g.id == 0 {
		return out, nil
	}
	grp, err := getGroup(s, g.id)
	if err != nil {
		return out, err
	}
	removed, disabled, n, err := r.departures(s, g, g.id)
	if err != nil {
		return out, err
	}
	name := func(uid uint64) (*userRec, error) { return getUser(s, uid) }
	if !g.syncRemoved {
		for _, uid := range removed {
			u, err := name(uid)
			if err != nil {
				return out, err
			}
			out = append(out, RunEntry{Name: u.Username, Type: directory.TypeUser, Action: ActionSkipped, Group: grp.Name,
				Reason: fmt.Sprintf("%s; not removed from group %s", g.why, grp.Name)})
		}
		for _, uid := range disabled {
			u, err := name(uid)
			if err != nil {
				return out, err
			}
			out = append(out, RunEntry{Name: u.Username, Type: directory.TypeUser, Action: ActionSkipped,
				Reason: fmt.Sprintf("%s; deleted from %s, not disabled", g.why, r.source)})
		}
		return out, nil
	}
	if k, limit := affected(removed, disabled), r.threshold(n); k > limit && !r.opts.Force && !r.dry {
		return append(out, RunEntry{Name: grp.Name, Type: directory.TypeGroup, Action: ActionFailed,
			Reason: fmt.Sprintf("sync of group %q would remove or disable %d of %d members (threshold %d); nothing removed: re-run with --force to apply", grp.Name, k, n, limit)}), nil
	}
	for _, uid := range removed {
		u, err := name(uid)
		if err != nil {
			return out, err
		}
		if err := removeMember(s, g.id, uid); err != nil {
			return out, err
		}
		out = append(out, RunEntry{Name: u.Username, Type: directory.TypeUser, Action: ActionRemoved, Group: grp.Name,
			Reason: fmt.Sprintf("no longer a member of %s in %s", grp.Name, r.source)})
	}
	for _, uid := range disabled {
		u, err := name(uid)
		if err != nil {
			return out, err
		}
		nu := *u
		nu.Enabled, nu.Modified = false, r.now
		if err := putUser(s, uid, u, &nu); err != nil {
			return out, err
		}
		out = append(out, RunEntry{Name: u.Username, Type: directory.TypeUser, Action: ActionDisabled,
			Reason: fmt.Sprintf("deleted from %s", r.source)})
	}
	ng := *grp
	ng.Synced = r.now
	return out, putGroup(s, g.id, grp, &ng)
}

// Plan evaluates the import rules for in without changing the store and
// returns the would-be run (status planned). An error in the plan itself
// (unknown role, unknown copy-from user) is returned as an error. A sync
// that would exceed the removal threshold is not an error: the run's
// Error says so, and its entries show what --force would do.
func (s *Store) Plan(ctx context.Context, in Input) (*Run, error) {
	now := s.now()
	r, err := newRunner(&in, now)
	if err != nil {
		return nil, err
	}
	r.dry = true
	run := &Run{Started: now, Actor: in.Actor, Source: in.Source, Command: in.Command, Status: RunPlanned, Entries: []RunEntry{}}
	err = s.view(func(t *txKV) error {
		if err := r.resolve(t); err != nil {
			return err
		}
		tp, err := r.thresholdProblem(t)
		if err != nil {
			return err
		}
		if !r.opts.Force {
			run.Error = tp
		}
		run.Error = join(run.Error, r.incompleteProblem())
		o := newOverlayKV(t)
		for i := range r.steps {
			if i%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if run.Entries, err = r.run(o, &r.steps[i], run.Entries); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	for _, e := range run.Entries {
		run.Counts.count(e.Action)
	}
	return run, nil
}

// Apply evaluates the rules again and writes the result in batches, one
// write transaction per batch, journaling each entry's outcome in the same
// transaction. progress, if not nil, is called after every batch.
// Cancelling ctx stops between batches: the run is marked interrupted and
// finished batches stay (the run is returned, with a nil error). Exceeding
// the removal threshold without Options.Force returns ErrThreshold before
// anything is written. A failure of the store itself marks the run failed
// and is returned with it.
func (s *Store) Apply(ctx context.Context, in Input, progress func(Progress)) (*Run, error) {
	now := s.now()
	r, err := newRunner(&in, now)
	if err != nil {
		return nil, err
	}
	var tp string
	err = s.view(func(t *txKV) error {
		if err := r.resolve(t); err != nil {
			return err
		}
		tp, err = r.thresholdProblem(t)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if tp != "" && !r.opts.Force {
		return nil, &storeError{msg: tp, kind: ErrThreshold}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	opts := in.Options
	hdr := &runRec{Started: now.UnixNano(), Actor: in.Actor, Source: in.Source, Command: in.Command,
		Status: RunRunning, Error: r.incompleteProblem(), Options: &opts}
	var id uint64
	if err := s.db.Update(func(tx *bolt.Tx) (err error) {
		id, err = newRun(tx, hdr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("apply: start the run: %w", err)
	}
	run := &Run{ID: id, Started: now, Actor: in.Actor, Source: in.Source, Command: in.Command,
		Status: RunRunning, Error: hdr.Error, Entries: make([]RunEntry, 0, len(r.steps))}

	finish := func(status RunStatus, why string) error {
		hdr.Status, hdr.Finished = status, s.now().UnixNano()
		hdr.Error = join(hdr.Error, why)
		run.Status, run.Finished, run.Error = status, unixTime(hdr.Finished), hdr.Error
		return s.db.Update(func(tx *bolt.Tx) error { return putRunHeader(tx, id, hdr) })
	}

	var batch []RunEntry
	for start := 0; start < len(r.steps); start += s.batch {
		if ctx.Err() != nil {
			if err := finish(RunInterrupted, "cancelled; the batches already written stay"); err != nil {
				return run, fmt.Errorf("apply: mark run %d interrupted: %w", id, err)
			}
			return run, nil
		}
		end := min(start+s.batch, len(r.steps))
		counts, n := hdr.Counts, hdr.Entries
		err := s.db.Update(func(tx *bolt.Tx) error {
			t, err := newTxKV(tx)
			if err != nil {
				return err
			}
			batch = batch[:0]
			for i := start; i < end; i++ {
				if batch, err = r.run(t, &r.steps[i], batch); err != nil {
					return fmt.Errorf("%s: %w", r.steps[i].entry.Name, err)
				}
			}
			if err := appendEntries(tx, id, batch); err != nil {
				return err
			}
			for _, e := range batch {
				counts.count(e.Action)
			}
			h := *hdr
			h.Counts, h.Entries = counts, n+len(batch)
			return putRunHeader(tx, id, &h)
		})
		if err != nil {
			if ferr := finish(RunFailed, err.Error()); ferr != nil {
				err = errors.Join(err, ferr)
			}
			return run, fmt.Errorf("apply run %d: %w", id, err)
		}
		hdr.Counts, hdr.Entries = counts, n+len(batch)
		run.Counts = counts
		run.Entries = append(run.Entries, batch...)
		if progress != nil {
			p := Progress{Done: end, Total: len(r.steps), Counts: counts}
			if len(batch) > 0 {
				p.Current = batch[len(batch)-1].Name
			}
			progress(p)
		}
	}
	if err := finish(RunCompleted, ""); err != nil {
		return run, fmt.Errorf("apply: complete run %d: %w", id, err)
	}
	return run, nil
}

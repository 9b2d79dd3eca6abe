package store

import (
	"bytes"
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

// One run engine. An import or sync is a list of steps, run in order, each
// step one unit of a batch:
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
// The steps are fed either all at once (Plan, Apply: a list) or as a
// directory search streams them (ApplyStream: users batch by batch, the
// groups found once the search has ended). A member already written
// earlier in a streamed run only joins its groups. Plan runs the steps over
// an in-memory overlay of one read transaction; Apply and ApplyStream run
// them through one writer (runWriter), in write transactions of BatchSize
// steps, with one threshold policy: a group whose sync would remove or
// disable more than the threshold is journaled as failed and nothing is
// removed from it or disabled, while the rest of the run goes ahead
// (Options.Force lifts the limit).

type stepKind uint8

const (
	stepGroup stepKind = iota
	stepUser
	stepJoin // a user written earlier in the run joins groups read later
	stepGroupMembers
)

type step struct {
	kind  stepKind
	entry directory.Entry
	// for users: selected itself, and the input's groups listing it.
	selected bool
	groups   []int
	group    int // for group steps: index into runner.groups
}

// counted reports whether a step is one of the run's entries for progress
// (a group or a user; joins and member syncs are not).
func (st *step) counted() bool { return st.kind == stepGroup || st.kind == stepUser }

// groupState is one input group during a run.
type groupState struct {
	in         GroupInput
	entry      directory.Entry
	listed     map[string]bool // external IDs of the read's members
	incomplete string          // "read incomplete: …" when the read is partial
	// set by the group step:
	id          uint64 // the store group, 0 when its membership is not synced
	syncRemoved bool   // departures may be removed and deleted users disabled
	why         string // why not, for the skipped entries
	enableNew   bool   // new members are enabled (the group's remembered choice, on a sync)
}

// runner lays out and runs the steps of one run.
type runner struct {
	rules
	meta *Input // source, actor, command, options
	// pending are the steps not run yet; base is the number run before them.
	pending []step
	base    int
	groups  []*groupState
	// byExt maps a user's external ID to the number of its step: below base,
	// the step has run.
	byExt     map[string]int
	seenGroup map[string]bool
	// notes say why the run removed nothing from some group: incomplete
	// reads and exceeded thresholds, for the run's Error.
	notes      []string
	incomplete bool
}

// newRunner checks the input's source; it reads nothing and lays out no step.
func newRunner(in *Input, now time.Time) (*runner, error) {
	if in.Source == "" {
		return nil, fmt.Errorf("%w: an import needs the name of its source", ErrInvalid)
	}
	if err := checkValue("source name", in.Source); err != nil {
		return nil, err
	}
	r := &runner{
		rules:     rules{source: in.Source, opts: in.Options, now: now.UnixNano()},
		meta:      in,
		byExt:     map[string]int{},
		seenGroup: map[string]bool{},
	}
	if in.Incomplete != "" {
		r.incomplete = true
		r.notes = append(r.notes, "read incomplete: "+in.Incomplete+"; nothing was removed or disabled")
	}
	return r, nil
}

// layout appends the steps of users (selected) and groups (with their
// members). Called once with everything (a list), or batch by batch as a
// search streams (users first, groups last).
func (r *runner) layout(users []directory.Entry, groups []GroupInput) error {
	first := len(r.groups)
	for i := range groups {
		gi := groups[i]
		if gi.Read == nil {
			return fmt.Errorf("%w: group %d of the input has no read", ErrInvalid, i+1)
		}
		e := gi.Read.Group
		if e.ExternalID != "" && r.seenGroup[e.ExternalID] {
			continue
		}
		r.seenGroup[e.ExternalID] = true
		g := &groupState{in: gi, entry: e, listed: make(map[string]bool, len(gi.Read.Members))}
		if !gi.Read.Complete() {
			g.incomplete = gi.Read.Incomplete
			if !strings.HasPrefix(g.incomplete, "read incomplete") {
				g.incomplete = "read incomplete: " + g.incomplete
			}
			r.incomplete = true
			r.notes = append(r.notes, fmt.Sprintf("group %q: %s; nothing was removed or disabled", e.Name, g.incomplete))
		}
		for _, m := range gi.Read.Members {
			g.listed[m.ExternalID] = true
		}
		for _, id := range gi.Kept {
			g.listed[id] = true
		}
		r.groups = append(r.groups, g)
		r.add(step{kind: stepGroup, entry: e, group: len(r.groups) - 1})
	}
	for i := range users {
		e := users[i]
		if j, ok := r.byExt[e.ExternalID]; ok && e.ExternalID != "" {
			if j >= r.base {
				r.pending[j-r.base].selected = true
			}
			continue
		}
		r.byExt[e.ExternalID] = r.base + len(r.pending)
		r.add(step{kind: stepUser, entry: e, selected: true})
	}
	for gi := first; gi < len(r.groups); gi++ {
		members := r.groups[gi].in.Read.Members
		for i := range members {
			e := members[i]
			j, ok := r.byExt[e.ExternalID]
			switch {
			case ok && e.ExternalID != "" && j >= r.base:
				st := &r.pending[j-r.base]
				if !slices.Contains(st.groups, gi) {
					st.groups = append(st.groups, gi)
				}
			case ok && e.ExternalID != "":
				// Written earlier in this run: it only joins the group.
				r.add(step{kind: stepJoin, entry: e, groups: []int{gi}})
			default:
				r.byExt[e.ExternalID] = r.base + len(r.pending)
				r.add(step{kind: stepUser, entry: e, groups: []int{gi}})
			}
		}
	}
	for gi := first; gi < len(r.groups); gi++ {
		r.add(step{kind: stepGroupMembers, entry: r.groups[gi].entry, group: gi})
	}
	return nil
}

func (r *runner) add(st step) { r.pending = append(r.pending, st) }

// known counts the pending steps that are entries of the run.
func (r *runner) known() int {
	n := 0
	for i := range r.pending {
		if r.pending[i].counted() {
			n++
		}
	}
	return n
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
	if g.in.Partial {
		// A read of the changes names the members who left.
		for _, ext := range g.in.Departed {
			if uid := userIDByExt(s, r.source, ext); uid != 0 && !g.listed[ext] && isMember(s, gid, uid) && !slices.Contains(removed, uid) {
				removed = append(removed, uid)
			}
		}
	} else {
		for _, uid := range cur {
			u, err := getUser(s, uid)
			if err != nil {
				return nil, nil, 0, err
			}
			if u.Kind != External || u.Source != r.source || !g.listed[u.ExternalID] {
				removed = append(removed, uid)
			}
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

// run performs one step in s and appends its journal entries to out.
func (r *runner) run(s kv, st *step, out []RunEntry) ([]RunEntry, error) {
	switch st.kind {
	case stepGroup:
		g := r.groups[st.group]
		v, err := r.decideGroup(s, &st.entry)
		if err != nil {
			return out, err
		}
		ent, id := v.ent, v.id
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
		if r.opts.Sync && v.nuG != nil && v.nuG.Import != nil {
			g.enableNew = v.nuG.Import.Enable
		}
		if id != 0 && g.incomplete != "" {
			ent.Reason = join(ent.Reason, g.incomplete+"; nothing removed or disabled")
		}
		return append(out, ent), nil

	case stepUser, stepJoin:
		how := userFor{selected: st.selected}
		if !st.selected && len(st.groups) > 0 {
			how.keepEnabled = r.groups[st.groups[0]].incomplete
			for _, gi := range st.groups {
				if r.groups[gi].incomplete == "" {
					how.keepEnabled = ""
				}
				if r.groups[gi].enableNew {
					how.enableNew = true
				}
			}
		}
		var ent RunEntry
		var uid uint64
		if st.kind == stepJoin {
			uid = userIDByExt(s, r.source, st.entry.ExternalID)
		} else {
			v, err := r.decideUser(s, &st.entry, how)
			if err != nil {
				return out, err
			}
			ent, uid = v.ent, v.id
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
			if len(joined) > 0 && st.kind == stepUser {
				note := "added to group " + strings.Join(joined, ", ")
				if ent.Action == ActionUnchanged {
					ent.Action = ActionUpdated
				}
				ent.Reason = join(ent.Reason, note)
			}
		}
		if st.kind == stepJoin {
			return out, nil // journaled when it was written
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
	if g.in.Unchanged {
		if !g.syncRemoved {
			return out, nil
		}
		ng := *grp
		ng.Synced = r.now
		if g.in.Cookie != nil {
			ng.Feed = g.in.Cookie
		}
		return out, putGroup(s, g.id, grp, &ng)
	}
	removed, disabled, n, err := r.departures(s, g, g.id)
	if err != nil {
		return out, err
	}
	why := g.why
	if g.syncRemoved {
		if k, limit := affected(removed, disabled), r.threshold(n); k > limit && !r.opts.Force {
			msg := fmt.Sprintf("sync of group %q would remove or disable %d of %d members (threshold %d)", grp.Name, k, n, limit)
			r.notes = append(r.notes, msg+"; re-run with --force to apply")
			out = append(out, RunEntry{Name: grp.Name, Type: directory.TypeGroup, Action: ActionFailed, Block: BlockedThreshold,
				Reason: msg + "; nothing removed or disabled: re-run with --force to apply"})
			g.syncRemoved, why = false, fmt.Sprintf("over the removal threshold (%d of %d, threshold %d)", k, n, limit)
		}
	}
	if !g.syncRemoved {
		for _, uid := range removed {
			u, err := getUser(s, uid)
			if err != nil {
				return out, err
			}
			out = append(out, RunEntry{Name: u.Username, Type: directory.TypeUser, Action: ActionSkipped, Group: grp.Name,
				Reason: fmt.Sprintf("%s; not removed from group %s", why, grp.Name)})
		}
		for _, uid := range disabled {
			u, err := getUser(s, uid)
			if err != nil {
				return out, err
			}
			out = append(out, RunEntry{Name: u.Username, Type: directory.TypeUser, Action: ActionSkipped,
				Reason: fmt.Sprintf("%s; deleted from %s, not disabled", why, r.source)})
		}
		return out, nil
	}
	for _, uid := range removed {
		u, err := getUser(s, uid)
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
		u, err := getUser(s, uid)
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
	if g.in.Cookie != nil {
		ng.Feed = g.in.Cookie
	}
	if g.in.Read.Nested != nil || g.in.Cookie != nil {
		ng.Nested = g.in.Read.Nested
	}
	return out, putGroup(s, g.id, grp, &ng)
}

// note is the run's Error: why some group had nothing removed.
func (r *runner) note() string { return strings.Join(r.notes, "; ") }

// Plan evaluates the import rules for in without changing the store and
// returns the would-be run (status planned): the same steps and decisions
// as Apply, run over an in-memory overlay. An error in the plan itself
// (unknown role, unknown copy-from user) is returned as an error. A group
// over the removal threshold is journaled as Apply would journal it
// (failed, nothing removed), and the run's Error says so.
func (s *Store) Plan(ctx context.Context, in Input) (*Run, error) {
	now := s.now()
	r, err := newRunner(&in, now)
	if err != nil {
		return nil, err
	}
	if err := r.layout(in.Users, in.Groups); err != nil {
		return nil, err
	}
	run := &Run{Started: now, Actor: in.Actor, Source: in.Source, Command: in.Command, Status: RunPlanned,
		Mode: in.mode(), Note: in.Note, Entries: []RunEntry{}}
	err = s.view(func(t *txKV) error {
		if err := r.resolve(t); err != nil {
			return err
		}
		o := newOverlayKV(t)
		for i := range r.pending {
			if i%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if run.Entries, err = r.run(o, &r.pending[i], run.Entries); err != nil {
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
	run.Error, run.ReadIncomplete = r.note(), r.incomplete
	return run, nil
}

// Apply evaluates the rules again and writes the result in batches, one
// write transaction per batch, journaling each entry's outcome in the same
// transaction. progress, if not nil, is called after every batch.
// Cancelling ctx stops between batches: the run is marked interrupted and
// finished batches stay (the run is returned, with a nil error). A run
// whose groups were not all read completely ends as incomplete: nothing
// was removed from those groups or disabled. A failure of the store itself
// marks the run failed and is returned with it.
func (s *Store) Apply(ctx context.Context, in Input, progress func(Progress)) (*Run, error) {
	r, err := newRunner(&in, s.now())
	if err != nil {
		return nil, err
	}
	if err := r.layout(in.Users, in.Groups); err != nil {
		return nil, err
	}
	w, err := s.newWriter(r, progress)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.known = r.known()
	if err := w.start(); err != nil {
		return nil, err
	}
	return w.end(ctx, w.drain(ctx))
}

// ApplyStream is Apply for an import whose entries arrive while a
// directory search is still streaming them: users are decided and written
// batch by batch as they come, so the directory's read and the store's
// writes overlap; the groups found are read whole with readGroup once the
// search has ended, and applied last. It is the same engine, run and
// rules as Apply.
//
// search runs in its own goroutine and calls yield for each entry; yield
// returns an error once ctx is done. A search that fails before its first
// entry returns its error and no run. One that fails later ends the run as
// incomplete (what was received is written; nothing is removed or
// disabled); a group that cannot be read ends it as failed; a cancelled
// ctx as interrupted: the batches already written stay, and running the
// same import again completes it. in.Users and in.Groups must be empty.
// progress, if not nil, is called after every batch; its Total is the
// number of entries received so far. The run returned holds only the
// entries that need attention (Run.Trimmed); GetRun reads them all.
func (s *Store) ApplyStream(ctx context.Context, in Input,
	search func(yield func(directory.Entry) error) error,
	readGroup func(ctx context.Context, group directory.Entry) (GroupInput, error),
	progress func(Progress)) (*Run, error) {
	if len(in.Users) > 0 || len(in.Groups) > 0 {
		return nil, fmt.Errorf("%w: ApplyStream takes its entries from the search", ErrInvalid)
	}
	r, err := newRunner(&in, s.now())
	if err != nil {
		return nil, err
	}
	w, err := s.newWriter(r, progress)
	if err != nil {
		return nil, err
	}
	w.trim = true

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	entries := make(chan directory.Entry, 2*s.batch)
	searchErr := make(chan error, 1)
	go func() {
		defer close(entries)
		searchErr <- search(func(e directory.Entry) error {
			select {
			case entries <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer func() {
		cancel()
		for range entries { // let the search goroutine end
		}
	}()

	var groups []directory.Entry
	users := make([]directory.Entry, 0, s.batch)
	// flush lays out the users received and writes them; the run starts
	// with the first batch, so a search that finds nothing journals nothing
	// until its end.
	flush := func() error {
		if len(users) == 0 {
			return nil
		}
		if err := r.layout(users, nil); err != nil {
			return err
		}
		users = users[:0]
		if w.run == nil {
			if err := w.start(); err != nil {
				return err
			}
		}
		return w.drain(ctx)
	}
	for e := range entries {
		w.known++
		if e.Type == directory.TypeGroup {
			groups = append(groups, e)
			continue
		}
		users = append(users, e)
		if len(users) >= s.batch {
			if err := flush(); err != nil {
				return w.end(ctx, err)
			}
		}
	}
	if err := <-searchErr; err != nil {
		if w.run == nil && len(users) == 0 {
			return nil, err
		}
		// What was received whole is written; then the run ends.
		if ferr := flush(); ferr != nil {
			return w.end(ctx, errors.Join(err, ferr))
		}
		if ctx.Err() != nil {
			return w.end(ctx, ctx.Err())
		}
		r.incomplete = true
		r.notes = append(r.notes, fmt.Sprintf("the search failed after %d entries: %v; the entries received were applied, nothing was removed or disabled: run the same import again to complete it", w.known, err))
		return w.end(ctx, nil)
	}
	if err := flush(); err != nil {
		return w.end(ctx, err)
	}
	if len(groups) > 0 {
		var gis []GroupInput
		for _, g := range groups {
			gi, err := readGroup(ctx, g)
			if err != nil {
				if w.run == nil {
					return nil, err
				}
				return w.end(ctx, &readError{err})
			}
			gis = append(gis, gi)
		}
		if err := r.layout(nil, gis); err != nil {
			return w.end(ctx, err)
		}
		// The groups were counted when they arrived; their members not yet
		// written are entries known now.
		w.known += r.known() - len(r.groups)
		if w.run == nil {
			if err := w.start(); err != nil {
				return nil, err
			}
		}
		if err := w.drain(ctx); err != nil {
			return w.end(ctx, err)
		}
	}
	if w.run == nil { // nothing found: an empty, completed run
		if err := w.start(); err != nil {
			return nil, err
		}
	}
	return w.end(ctx, nil)
}

// readError is a directory read that failed in the middle of a run.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// runWriter is the one journaled run writer: it starts a run, writes the
// runner's pending steps in batches (one write transaction each, the
// journal entries and counts in the same transaction), reports progress
// (entries done of entries known), and ends the run.
type runWriter struct {
	s        *Store
	r        *runner
	progress func(Progress)
	known    int // entries known so far (progress's Total)
	done     int // entries written so far
	// trim keeps in the returned run only the entries that need attention
	// (ApplyStream: a large import need not hold every entry in memory).
	trim bool

	id  uint64
	hdr *runRec
	run *Run
}

// newWriter resolves the run's options against the store (unknown roles
// and users are errors before anything is journaled).
func (s *Store) newWriter(r *runner, progress func(Progress)) (*runWriter, error) {
	if err := s.view(func(t *txKV) error { return r.resolve(t) }); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	return &runWriter{s: s, r: r, progress: progress}, nil
}

// start journals the run's header.
func (w *runWriter) start() error {
	in := w.r.meta
	opts := in.Options
	w.hdr = &runRec{Started: w.r.now, Actor: in.Actor, Source: in.Source, Command: in.Command,
		Status: RunRunning, Mode: in.mode(), Note: in.Note, Options: &opts}
	if err := w.s.db.Update(func(tx *bolt.Tx) (err error) {
		if err := checkExpect(tx, in); err != nil {
			return err
		}
		w.id, err = newRun(tx, w.hdr)
		return err
	}); errors.Is(err, ErrStale) {
		return err
	} else if err != nil {
		return fmt.Errorf("apply: start the run: %w", err)
	}
	w.run = &Run{ID: w.id, Started: unixTime(w.hdr.Started), Actor: in.Actor, Source: in.Source,
		Command: in.Command, Status: RunRunning, Mode: w.hdr.Mode, Note: in.Note, Entries: []RunEntry{}}
	return nil
}

// checkExpect checks, in the transaction that starts a run, that the
// groups in.Expect names still stand as the input was read from them
// (ErrStale otherwise). Writes to a store are exclusive (one process holds
// it to write, one transaction at a time), so a run that passes the check
// applies over the store its input was read from.
func checkExpect(tx *bolt.Tx, in *Input) error {
	if in.Expect == nil {
		return nil
	}
	t, err := newTxKV(tx)
	if err != nil {
		return err
	}
	for _, m := range in.Expect {
		gid := groupIDByExt(t, in.Source, m.ExternalID)
		if gid == 0 {
			return fmt.Errorf("%w: group %s of %s is no longer in the store", ErrStale, m.ExternalID, in.Source)
		}
		g, err := getGroup(t, gid)
		if err != nil {
			return err
		}
		if !bytes.Equal(g.Feed, m.Feed) || !unixTime(g.Synced).Equal(m.Synced) {
			return fmt.Errorf("%w: group %s was synchronized by another process meanwhile", ErrStale, g.Name)
		}
	}
	return nil
}

// drain writes every pending step, in batches; it stops between batches
// when ctx is done and returns ctx's error. With OpenOptions.BatchPause it
// waits that long before each batch.
func (w *runWriter) drain(ctx context.Context) error {
	r := w.r
	var batch []RunEntry
	for len(r.pending) > 0 {
		if err := w.s.wait(ctx); err != nil {
			return err
		}
		n := min(w.s.batch, len(r.pending))
		steps := r.pending[:n]
		counts, journaled := w.hdr.Counts, w.hdr.Entries
		err := w.s.db.Update(func(tx *bolt.Tx) error {
			t, err := newTxKV(tx)
			if err != nil {
				return err
			}
			batch = batch[:0]
			for i := range steps {
				if batch, err = r.run(t, &steps[i], batch); err != nil {
					return fmt.Errorf("%s: %w", steps[i].entry.Name, err)
				}
			}
			if err := appendEntries(tx, w.id, batch); err != nil {
				return err
			}
			for _, e := range batch {
				counts.count(e.Action)
			}
			h := *w.hdr
			h.Counts, h.Entries = counts, journaled+len(batch)
			return putRunHeader(tx, w.id, &h)
		})
		if err != nil {
			return err
		}
		for i := range steps {
			if steps[i].counted() {
				w.done++
			}
		}
		r.pending = r.pending[n:]
		r.base += n
		w.s.releaseResident()
		w.hdr.Counts, w.hdr.Entries = counts, journaled+len(batch)
		w.run.Counts = counts
		if w.trim {
			for _, e := range batch {
				switch e.Action {
				case ActionCreated, ActionUpdated, ActionUnchanged:
				default:
					w.run.Entries = append(w.run.Entries, e)
				}
			}
		} else {
			w.run.Entries = append(w.run.Entries, batch...)
		}
		if w.progress != nil {
			p := Progress{Done: w.done, Total: max(w.known, w.done), Counts: counts}
			if len(batch) > 0 {
				p.Current = batch[len(batch)-1].Name
			}
			w.progress(p)
		}
	}
	return nil
}

// wait is the pause before a batch (OpenOptions.BatchPause): it returns
// ctx's error at once when ctx is done, or once the pause has passed.
func (s *Store) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil || s.pause <= 0 {
		return err
	}
	t := time.NewTimer(s.pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// end closes the run after drain returned err: interrupted when ctx was
// cancelled, failed when a write or a read failed, incomplete when a read
// was, completed otherwise.
func (w *runWriter) end(ctx context.Context, err error) (*Run, error) {
	if w.run == nil {
		return nil, err
	}
	status, why := RunCompleted, w.r.note()
	var rerr *readError
	switch {
	case err == nil && w.r.incomplete:
		status = RunIncomplete
	case err == nil:
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		status, why = RunInterrupted, join(why, "cancelled; the batches already written stay")
		err = nil
	case errors.As(err, &rerr):
		status, why = RunFailed, join(why, err.Error()+"; the entries already written stay: run the same import again to complete it")
		err = fmt.Errorf("apply run %d: %w", w.id, err)
	default:
		status, why = RunFailed, join(why, err.Error())
		err = fmt.Errorf("apply run %d: %w", w.id, err)
	}
	w.hdr.Status, w.hdr.Finished = status, w.s.now().UnixNano()
	w.hdr.Error = why
	w.run.Status, w.run.Finished, w.run.Error = status, unixTime(w.hdr.Finished), why
	w.run.ReadIncomplete = w.r.incomplete
	w.run.Trimmed = w.trim
	if ferr := w.s.db.Update(func(tx *bolt.Tx) error { return putRunHeader(tx, w.id, w.hdr) }); ferr != nil {
		return w.run, errors.Join(err, fmt.Errorf("apply: end run %d: %w", w.id, ferr))
	}
	return w.run, err
}

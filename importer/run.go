package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// ErrUsage marks a request that cannot run as given (a name --select asks
// for that the search did not find, …): the CLI's exit code 2.
var ErrUsage = errors.New("bad usage")

// Env is what running a request needs besides its directory.
type Env struct {
	Store *store.Store
	// Actor is who runs it (OS user, SSH user), for the journal.
	Actor string
	// Progress, if not nil, hears from an apply after every batch.
	Progress func(store.Progress)
	// SkipUnchanged makes a sync whose change feed shows nothing changed
	// in any of its groups return an Outcome without a run: nothing is
	// journaled (a watch's quiet rounds).
	SkipUnchanged bool
	// Reader, if not nil, is what reading a sync asks of the store instead
	// of Store (a watch reads its directory with the store closed, and
	// opens it only for these reads). Without Store, a sync's failed read
	// is returned as it is, and journaled by nobody.
	Reader StoreReader
}

// StoreReader is what reading a request from a directory asks of the
// store: the memberships it holds, to lay out a group's read from a change
// feed and to find the members that departed. *store.Store is one.
type StoreReader interface {
	Departed(source string, read *directory.GroupRead) ([]string, error)
	GroupsHolding(source string, userExtIDs []string) (map[string]bool, error)
	MembersAmong(source, groupExt string, userExtIDs []string) (map[string]bool, error)
	MemberEntries(source, externalID string) ([]directory.Entry, error)
}

// reader is what env reads the store through.
func (env Env) reader() StoreReader {
	if env.Reader != nil {
		return env.Reader
	}
	return env.Store
}

// Outcome is a request planned or applied: its run (planned, or as
// journaled) and the warnings read before it.
type Outcome struct {
	Run      *store.Run
	Warnings []string
}

// input is the store input of a request, before its entries are read.
func input(env Env, source, command string, opts store.Options) store.Input {
	return store.Input{Source: source, Actor: env.Actor, Command: command, Options: opts}
}

// Run searches dir (the server o names) for o.Query, selects the results
// o.Select names, reads the selected groups whole, and plans (apply false)
// or applies the import. Applying every result streams: users are written
// while the search still runs, groups read once it ends (one run all the
// same, with the same rules as the wizard's list). A group that cannot be
// read while applying is journaled as a failed run, returned with the
// error.
func (o *LDAP) Run(ctx context.Context, env Env, dir directory.Directory, apply bool) (*Outcome, error) {
	st := env.Store
	in := input(env, dir.Name(), o.CommandLine(), o.Options())
	if apply && o.Select.All() {
		run, err := st.ApplyStream(ctx, in,
			func(yield func(directory.Entry) error) error { return dir.Search(ctx, o.Query, yield) },
			func(ctx context.Context, g directory.Entry) (store.GroupInput, error) {
				return ReadGroup(ctx, st, dir, g.ExternalID)
			},
			env.Progress)
		if run == nil && err != nil {
			return nil, fmt.Errorf("search %s for %q: %w", dir.Name(), o.Query, err)
		}
		return &Outcome{Run: run}, err
	}
	var found []directory.Entry
	err := dir.Search(ctx, o.Query, func(e directory.Entry) error {
		found = append(found, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search %s for %q: %w", dir.Name(), o.Query, err)
	}
	picked, err := Select(found, o.Select)
	if err != nil {
		return nil, err
	}
	return run(ctx, env, dir, in, picked, apply)
}

// run prepares picked, then plans or applies; a failed read is journaled
// when applying.
func run(ctx context.Context, env Env, dir directory.Directory, in store.Input, picked []directory.Entry, apply bool) (*Outcome, error) {
	p, err := Prepare(ctx, env.Store, dir, in, picked)
	if err != nil {
		return failed(env, in, err, apply)
	}
	return p.run(ctx, env, apply)
}

// run plans (apply false) or applies p.
func (p *Prepared) run(ctx context.Context, env Env, apply bool) (*Outcome, error) {
	out := &Outcome{Warnings: p.Warnings}
	var err error
	if apply {
		out.Run, err = p.Apply(ctx, env.Store, env.Progress)
	} else {
		out.Run, err = p.Plan(ctx, env.Store)
	}
	if out.Run == nil {
		return nil, err
	}
	return out, err
}

// failed journals a read that failed (when applying) and returns it.
func failed(env Env, in store.Input, cause error, apply bool) (*Outcome, error) {
	run, err := Failed(env.Store, in, cause, apply)
	if err != nil {
		return nil, errors.Join(cause, err)
	}
	if run.ID == 0 {
		return &Outcome{Run: run}, fmt.Errorf("the plan failed: %w", cause)
	}
	return &Outcome{Run: run}, fmt.Errorf("run %d failed: %w", run.ID, cause)
}

// Select picks the search results names asks for: all of them when names
// is empty (the rules skip the blocked ones and say why); names are
// matched ignoring case. A name not found is an ErrUsage.
func Select(found []directory.Entry, names Names) ([]directory.Entry, error) {
	if names.All() {
		return found, nil
	}
	byName := map[string][]directory.Entry{}
	for _, e := range found {
		k := store.Fold(e.Name)
		byName[k] = append(byName[k], e)
	}
	var out []directory.Entry
	var missing []string
	for _, name := range names {
		es, ok := byName[store.Fold(name)]
		if !ok {
			missing = append(missing, name)
			continue
		}
		out = append(out, es...)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: --select names %s, which the search did not find (%d result(s))", ErrUsage, strings.Join(missing, ", "), len(found))
	}
	return out, nil
}

// GroupFinder is an Entra tenant: a directory that finds a group by display
// name or object id.
type GroupFinder interface {
	directory.Directory
	FindGroup(ctx context.Context, nameOrID string) (directory.Entry, error)
}

// Run finds the groups o names in dir, reads them whole, and plans or
// applies the import. A group that cannot be read while applying is
// journaled as a failed run.
func (o *Entra) Run(ctx context.Context, env Env, dir GroupFinder, apply bool) (*Outcome, error) {
	in := input(env, dir.Name(), o.CommandLine(), o.Options())
	var picked []directory.Entry
	for _, name := range o.Groups {
		g, err := dir.FindGroup(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("find group %q in %s: %w", name, dir.Name(), err)
		}
		picked = append(picked, g)
	}
	return run(ctx, env, dir, in, picked, apply)
}

// Input is the store input of synchronizing groups from dir, before they
// are read, journaled with command.
func (o *Sync) Input(env Env, source string, kind directory.Kind, command string) store.Input {
	return input(env, source, command, o.Options(kind))
}

// Prepare reads groups, all imported from dir, for one sync run journaled
// with command. A read that fails is journaled as a failed run when apply
// is set (whoever started the sync: the CLI, a group card), and returned
// with the error; for a plan only the error is returned.
func (o *Sync) Prepare(ctx context.Context, env Env, dir directory.Directory, groups []store.Group, command string, apply bool) (*Prepared, *store.Run, error) {
	in := o.Input(env, dir.Name(), dir.Kind(), command)
	feed, _ := dir.(directory.ChangeFeed)
	if feed != nil && !o.Full {
		gis, note, ok, err := readIncremental(ctx, env.reader(), dir, feed, groups)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, nil, err
		case err != nil:
			// The changes could not be read whole: nothing is applied, the
			// groups keep their cookies, the run says why (exit 4).
			in.Mode, in.Incomplete = store.ModeIncremental, fmt.Sprintf("the change feed of %s could not be read: %v", dir.Name(), err)
			return &Prepared{Input: in}, nil, nil
		case ok:
			in.Mode, in.Note, in.Groups = store.ModeIncremental, note, gis
			var members []directory.Entry
			for _, gi := range gis {
				members = append(members, gi.Read.Members...)
			}
			return &Prepared{Input: in, Warnings: Warnings(members)}, nil, nil
		}
		in.Note = note
	}
	// A full read. With a feed, its cookie is taken first, so that a change
	// made during the read is read again next time rather than lost.
	var cookie []byte
	if feed != nil {
		c, err := feed.FeedCookie(ctx)
		switch {
		case err == nil:
			cookie = c
		case errors.Is(err, directory.ErrNoFeed):
			in.Note = "" // no feed: a full read is all there is, nothing to say
		default:
			in.Note = joinNote(in.Note, fmt.Sprintf("no change-feed cookie taken (%v): the next sync reads fully too", err))
		}
	}
	picked := make([]directory.Entry, 0, len(groups))
	for _, g := range groups {
		picked = append(picked, groupEntry(g))
	}
	p, err := Prepare(ctx, env.reader(), dir, in, picked)
	if err != nil && env.Store == nil {
		return nil, nil, err // read detached from the store: the caller says why
	}
	if err != nil {
		res, err := failed(env, in, err, apply)
		if res != nil {
			return nil, res.Run, err
		}
		return nil, nil, err
	}
	for i := range p.Input.Groups {
		if p.Input.Groups[i].Read.Complete() {
			p.Input.Groups[i].Cookie = cookie
		}
	}
	return p, nil, nil
}

// joinNote joins two notes of a run.
func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Run synchronizes groups, all imported from dir, as one run: each is read
// whole, then the sync is planned or applied. A read that fails while
// applying is journaled as a failed run, returned with the error.
func (o *Sync) Run(ctx context.Context, env Env, dir directory.Directory, groups []store.Group, command string, apply bool) (*Outcome, error) {
	p, failedRun, err := o.Prepare(ctx, env, dir, groups, command, apply)
	if err != nil {
		if failedRun != nil {
			return &Outcome{Run: failedRun}, err
		}
		return nil, err
	}
	if env.SkipUnchanged && p.Unchanged() {
		return &Outcome{}, nil
	}
	return p.run(ctx, env, apply)
}

// Unchanged reports whether p is an incremental read in which nothing
// changed in any group.
func (p *Prepared) Unchanged() bool {
	in := &p.Input
	if in.Mode != store.ModeIncremental || in.Incomplete != "" || len(in.Users) > 0 {
		return false
	}
	for _, g := range in.Groups {
		if !g.Unchanged {
			return false
		}
	}
	return true
}

// Unreachable journals a sync whose directory could not even be opened
// (when applying), and returns the outcome to report.
func (o *Sync) Unreachable(env Env, source, command string, cause error, apply bool) (*Outcome, error) {
	return failed(env, input(env, source, command, o.Options("")), cause, apply)
}

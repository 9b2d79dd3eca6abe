package importer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// ReadGroup reads one group whole from dir and prepares it for a plan or an
// apply: when the read is complete, the store's members that the
// directory no longer lists are looked up, and those the directory no
// longer has at all are passed on as deleted (to be disabled). An
// incomplete read is returned as it is: the rules then remove and disable
// nothing.
func ReadGroup(ctx context.Context, st StoreReader, dir directory.Directory, externalID string) (store.GroupInput, error) {
	read, err := dir.ReadGroup(ctx, externalID)
	if err != nil {
		return store.GroupInput{}, fmt.Errorf("read group %s from %s: %w", externalID, dir.Name(), err)
	}
	in := store.GroupInput{Read: read}
	if !read.Complete() {
		return in, nil
	}
	departed, err := st.Departed(dir.Name(), read)
	if err != nil || len(departed) == 0 {
		return in, err
	}
	found, err := dir.LookupUsers(ctx, departed)
	if err != nil {
		// Nothing can be concluded about who was deleted: mark the read
		// incomplete so that nothing is removed or disabled.
		read.Incomplete = fmt.Sprintf("looking up %d departed members failed: %v", len(departed), err)
		return in, nil
	}
	for _, id := range departed {
		if _, ok := found[id]; !ok {
			in.Deleted = append(in.Deleted, id)
		}
	}
	return in, nil
}

// Prepared is a request read from its directory: the store's input, ready
// to plan or apply, and the warnings to show before importing.
type Prepared struct {
	Input    store.Input
	Warnings []string
}

// Prepare reads what was picked (users are taken as they are; groups are
// read whole with ReadGroup) into in, and works out the warnings. A group
// that cannot be read is an error: nothing is planned — except in a sync,
// where a read that broke off (directory.ErrIncomplete) makes the group's
// read incomplete: the run then removes and disables nothing and ends
// incomplete.
func Prepare(ctx context.Context, st StoreReader, dir directory.Directory, in store.Input, picked []directory.Entry) (*Prepared, error) {
	all := append([]directory.Entry(nil), picked...)
	for _, e := range picked {
		if e.Type != directory.TypeGroup {
			in.Users = append(in.Users, e)
			continue
		}
		gi, err := ReadGroup(ctx, st, dir, e.ExternalID)
		if err != nil && in.Options.Sync && errors.Is(err, directory.ErrIncomplete) && ctx.Err() == nil {
			// A sync whose read broke off proves nothing about the
			// group's members: the run goes ahead as incomplete, and
			// removes and disables nothing.
			gi = store.GroupInput{Read: &directory.GroupRead{Group: e, Incomplete: err.Error()}}
		} else if err != nil {
			return nil, &ReadError{Group: e.Name, Err: err}
		}
		in.Groups = append(in.Groups, gi)
		all = append(all, gi.Read.Members...)
	}
	p := &Prepared{Input: in}
	for _, g := range in.Groups {
		if !g.Read.Complete() {
			p.Warnings = append(p.Warnings, fmt.Sprintf("Group %s could not be read completely (%s): nothing will be removed or disabled.", g.Read.Group.Name, g.Read.Incomplete))
		}
	}
	p.Warnings = append(p.Warnings, Warnings(all)...)
	return p, nil
}

// ReadError is a group that could not be read from its directory.
type ReadError struct {
	Group string
	Err   error
}

func (e *ReadError) Error() string { return fmt.Sprintf("could not read group %s: %v", e.Group, e.Err) }
func (e *ReadError) Unwrap() error { return e.Err }

// Plan is what applying p would do, changing nothing.
func (p *Prepared) Plan(ctx context.Context, st *store.Store) (*store.Run, error) {
	return st.Plan(ctx, p.Input)
}

// Apply applies p in batches (store.Apply).
func (p *Prepared) Apply(ctx context.Context, st *store.Store, progress func(store.Progress)) (*store.Run, error) {
	return st.Apply(ctx, p.Input, progress)
}

// Failed journals a run whose directory read failed before anything could
// be applied, when applying (whoever started it: the CLI, the wizard, a
// group card): the audit trail shows the attempt, and nothing was changed.
// For a plan (apply false) it journals nothing and returns the failed
// plan's run (ID 0), so that --json still prints a run object.
func Failed(st *store.Store, in store.Input, cause error, apply bool) (*store.Run, error) {
	if apply {
		return st.Fail(in, cause)
	}
	now := time.Now()
	return &store.Run{Started: now, Finished: now, Actor: in.Actor, Source: in.Source, Command: in.Command,
		Status: store.RunFailed, Mode: store.ModeFull, Error: cause.Error(), Entries: []store.RunEntry{}}, nil
}

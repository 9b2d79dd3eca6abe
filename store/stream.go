package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/usersync/usersync/directory"
)

// ApplyStream is Apply for an import whose entries arrive while a directory
// search is still streaming them: users are decided and written batch by
// batch as they come, so the directory's read and the store's writes
// overlap; the groups found are read whole with readGroup once the search
// has ended, and applied last. It is one run, journaled as Apply journals
// one, with the same rules, except for the removal threshold: a group whose
// sync would exceed it is journaled as failed and nothing is removed from it
// (Apply refuses the whole import before writing instead).
//
// search runs in its own goroutine and calls yield for each entry; yield
// returns an error once ctx is done. A search that fails before its first
// entry returns its error and no run. One that fails later, a group that
// cannot be read, or a cancelled ctx, ends the run as failed or interrupted:
// the batches already written stay, and running the same import again
// completes it. in.Users and in.Groups must be empty. progress, if not
// nil, is called after every batch; its Total is the number of entries
// received so far.
func (s *Store) ApplyStream(ctx context.Context, in Input,
	search func(yield func(directory.Entry) error) error,
	readGroup func(ctx context.Context, group directory.Entry) (GroupInput, error),
	progress func(Progress)) (*Run, error) {
	if len(in.Users) > 0 || len(in.Groups) > 0 {
		return nil, fmt.Errorf("%w: ApplyStream takes its entries from the search", ErrInvalid)
	}
	now := s.now()
	if _, err := newRunner(&in, now); err != nil {
		return nil, err
	}
	// The options are checked before the search starts (unknown roles).
	if err := s.view(func(t *txKV) error {
		r := &runner{rules: rules{source: in.Source, opts: in.Options, now: now.UnixNano()}, in: &in}
		return r.resolve(t)
	}); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}

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

	w := &streamWriter{s: s, in: in, now: now, progress: progress, seen: map[string]bool{}}
	defer func() {
		cancel()
		for range entries { // let the search goroutine end
		}
	}()
	var groups []directory.Entry
	var users []directory.Entry
	received := 0
	flush := func() error {
		err := w.write(ctx, users, nil, received)
		users = users[:0]
		return err
	}
	for e := range entries {
		received++
		if e.Type == directory.TypeGroup {
			groups = append(groups, e)
			continue
		}
		if e.ExternalID != "" && w.seen[e.ExternalID] {
			continue
		}
		if e.ExternalID != "" {
			w.seen[e.ExternalID] = true
		}
		users = append(users, e)
		if len(users) >= s.batch {
			if err := flush(); err != nil {
				return w.run, err
			}
		}
	}
	if err := <-searchErr; err != nil {
		if w.run == nil && len(users) == 0 {
			return nil, err
		}
		// What was received whole is written; then the run fails.
		if ferr := flush(); ferr != nil {
			return w.run, errors.Join(err, ferr)
		}
		if ctx.Err() != nil {
			if ferr := w.finish(RunInterrupted, "cancelled; the batches already written stay"); ferr != nil {
				return w.run, errors.Join(err, ferr)
			}
			return w.run, err
		}
		return w.fail(fmt.Errorf("the search failed after %d entries: %w", received, err))
	}
	if err := flush(); err != nil {
		return w.run, err
	}
	if len(groups) > 0 {
		var gis []GroupInput
		for _, g := range groups {
			gi, err := readGroup(ctx, g)
			if err != nil {
				if w.run == nil {
					return nil, err
				}
				return w.fail(err)
			}
			gis = append(gis, gi)
		}
		if err := w.write(ctx, nil, gis, received); err != nil {
			return w.run, err
		}
	}
	if w.run == nil { // nothing found: an empty, completed run
		if err := w.start(); err != nil {
			return nil, err
		}
	}
	if err := w.finish(RunCompleted, ""); err != nil {
		return w.run, fmt.Errorf("apply: complete run %d: %w", w.id, err)
	}
	return w.run, nil
}

// streamWriter writes the batches of one streamed run.
type streamWriter struct {
	s        *Store
	in       Input
	now      time.Time
	progress func(Progress)
	seen     map[string]bool // external IDs of the users journaled so far

	id  uint64
	hdr *runRec
	run *Run
}

// start journals the run's header.
func (w *streamWriter) start() error {
	opts := w.in.Options
	w.hdr = &runRec{Started: w.now.UnixNano(), Actor: w.in.Actor, Source: w.in.Source, Command: w.in.Command,
		Status: RunRunning, Options: &opts}
	if err := w.s.db.Update(func(tx *bolt.Tx) (err error) {
		w.id, err = newRun(tx, w.hdr)
		return err
	}); err != nil {
		return fmt.Errorf("apply: start the run: %w", err)
	}
	w.run = &Run{ID: w.id, Started: unixTime(w.hdr.Started), Actor: w.in.Actor, Source: w.in.Source,
		Command: w.in.Command, Status: RunRunning}
	return nil
}

func (w *streamWriter) finish(status RunStatus, why string) error {
	w.hdr.Status, w.hdr.Finished = status, w.s.now().UnixNano()
	w.hdr.Error = join(w.hdr.Error, why)
	w.run.Status, w.run.Finished, w.run.Error = status, unixTime(w.hdr.Finished), w.hdr.Error
	return w.s.db.Update(func(tx *bolt.Tx) error { return putRunHeader(tx, w.id, w.hdr) })
}

// fail ends the run as failed because of cause.
func (w *streamWriter) fail(cause error) (*Run, error) {
	if err := w.finish(RunFailed, cause.Error()+"; the entries already written stay: run the same import again to complete it"); err != nil {
		return w.run, errors.Join(cause, err)
	}
	return w.run, fmt.Errorf("apply run %d: %w", w.id, cause)
}

// write applies users (selected) or groups (with their members) in
// batches. A member journaled earlier in the run joins its groups without
// a second journal entry.
func (w *streamWriter) write(ctx context.Context, users []directory.Entry, groups []GroupInput, received int) error {
	if len(users) == 0 && len(groups) == 0 {
		return nil
	}
	if w.run == nil {
		if err := w.start(); err != nil {
			return err
		}
	}
	in := w.in
	in.Users, in.Groups = users, groups
	r, err := newRunner(&in, w.now)
	if err != nil {
		return err
	}
	if p := r.incompleteProblem(); p != "" {
		w.hdr.Error = join(w.hdr.Error, p)
		w.run.Error = w.hdr.Error
	}
	for start := 0; start < len(r.steps); start += w.s.batch {
		if ctx.Err() != nil {
			if err := w.finish(RunInterrupted, "cancelled; the batches already written stay"); err != nil {
				return fmt.Errorf("apply: mark run %d interrupted: %w", w.id, err)
			}
			return context.Cause(ctx)
		}
		end := min(start+w.s.batch, len(r.steps))
		counts, n := w.hdr.Counts, w.hdr.Entries
		var batch []RunEntry
		err := w.s.db.Update(func(tx *bolt.Tx) error {
			t, err := newTxKV(tx)
			if err != nil {
				return err
			}
			if err := r.resolve(t); err != nil {
				return err
			}
			batch = batch[:0]
			for i := start; i < end; i++ {
				st := &r.steps[i]
				before := len(batch)
				if batch, err = r.run(t, st, batch); err != nil {
					return fmt.Errorf("%s: %w", st.entry.Name, err)
				}
				if st.kind == stepUser && !st.selected && w.seen[st.entry.ExternalID] && st.entry.ExternalID != "" {
					batch = batch[:before] // journaled already, as a selected user
				}
			}
			if err := appendEntries(tx, w.id, batch); err != nil {
				return err
			}
			for _, e := range batch {
				counts.count(e.Action)
			}
			h := *w.hdr
			h.Counts, h.Entries = counts, n+len(batch)
			return putRunHeader(tx, w.id, &h)
		})
		if err != nil {
			if ferr := w.finish(RunFailed, err.Error()); ferr != nil {
				err = errors.Join(err, ferr)
			}
			return fmt.Errorf("apply run %d: %w", w.id, err)
		}
		w.hdr.Counts, w.hdr.Entries = counts, n+len(batch)
		w.run.Counts = counts
		w.run.Entries = append(w.run.Entries, batch...)
		if w.progress != nil {
			p := Progress{Done: len(w.run.Entries), Total: max(received, len(w.run.Entries)), Counts: counts}
			if len(batch) > 0 {
				p.Current = batch[len(batch)-1].Name
			}
			w.progress(p)
		}
	}
	return nil
}

package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The journal: every Apply is a run, with a header in the runs bucket and
// its entries in a bucket of their own under run_entries. The header's
// counts and the entries of a batch are written in the batch's
// transaction, so the journal always agrees with the data.

// staleError is the error of a run found running by a process that holds
// the store alone: the process that ran it is gone.
const staleError = "the process running it ended before it finished; the batches already written stay"

// interruptStale marks runs still "running" as interrupted: Open holds the
// exclusive lock, so the process that ran them is gone.
func interruptStale(tx *bolt.Tx, now time.Time) error {
	t, err := newTxKV(tx)
	if err != nil {
		return err
	}
	ids, err := staleRuns(t)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r, err := decodeRun(t.get(bRuns, u64(id)))
		if err != nil {
			return err
		}
		r.Status = RunInterrupted
		r.Finished = now.UnixNano()
		if r.Error == "" {
			r.Error = staleError
		}
		if err := t.put(bRuns, u64(id), encode(r)); err != nil {
			return err
		}
	}
	return nil
}

// staleRuns lists the runs whose status is running. Runs that do not
// decode are left to Verify: they must not keep the store shut.
func staleRuns(t *txKV) ([]uint64, error) {
	var ids []uint64
	err := t.bs[bRuns].ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return nil
		}
		t := *t
		t.lenient = true
		if r, err := decodeRun(t.open(bRuns, k, v)); err == nil && r.Status == RunRunning {
			ids = append(ids, binary.BigEndian.Uint64(k))
		}
		return nil
	})
	return ids, err
}

// putRunHeader writes a run header.
func putRunHeader(tx *bolt.Tx, id uint64, r *runRec) error {
	t, err := newTxKV(tx)
	if err != nil {
		return err
	}
	return t.put(bRuns, u64(id), encode(r))
}

// newRun creates the header and the entries bucket of a new run.
func newRun(tx *bolt.Tx, r *runRec) (uint64, error) {
	id, err := tx.Bucket(bucketNames[bRuns]).NextSequence()
	if err != nil {
		return 0, err
	}
	if _, err := tx.Bucket(bucketNames[bRunEntries]).CreateBucket(u64(id)); err != nil {
		return 0, err
	}
	return id, putRunHeader(tx, id, r)
}

// appendEntries journals entries of run id.
func appendEntries(tx *bolt.Tx, id uint64, entries []RunEntry) error {
	t, err := newTxKV(tx)
	if err != nil {
		return err
	}
	b := t.bs[bRunEntries].Bucket(u64(id))
	if b == nil {
		return fmt.Errorf("%w: run %d has no entries bucket", ErrCorrupt, id)
	}
	b.FillPercent = appendFill // entries are appended in sequence
	for i := range entries {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		k, v := u64(seq), encode(&entries[i])
		if t.schema >= 2 {
			v = seal(k, v)
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// ListRuns returns the journal's runs, newest first, without entries.
func (s *Store) ListRuns() ([]Run, error) {
	runs := []Run{}
	err := s.view(func(t *txKV) error {
		c := t.bs[bRuns].Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			id, ok := idOf(k)
			if !ok {
				return fmt.Errorf("%w: runs: key %x is not a run id", ErrCorrupt, k)
			}
			r, err := decodeRun(t.open(bRuns, k, v))
			if err != nil {
				return fmt.Errorf("run %d: %w", id, err)
			}
			runs = append(runs, s.shown(r).run(id))
		}
		// Runs are never deleted: each took the next number.
		if seq := t.bs[bRuns].Sequence(); seq != uint64(len(runs)) {
			return fmt.Errorf("%w: the journal holds %d runs of the %d it numbered (runs were lost or added by damage)", ErrCorrupt, len(runs), seq)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// shown is r as a reader sees it: a store opened read-only shares the file
// with no writer, so a run still marked running was left so by a process
// that ended; Open marks it interrupted when it may write.
func (s *Store) shown(r *runRec) *runRec {
	if s.readOnly && r.Status == RunRunning {
		c := *r
		c.Status = RunInterrupted
		if c.Error == "" {
			c.Error = staleError
		}
		return &c
	}
	return r
}

// GetRun returns one run with its entries.
func (s *Store) GetRun(id uint64) (Run, error) {
	var run Run
	err := s.view(func(t *txKV) error {
		v := t.get(bRuns, u64(id))
		if v == nil {
			return fmt.Errorf("run %d: %w", id, ErrNotFound)
		}
		r, err := decodeRun(v)
		if err != nil {
			return fmt.Errorf("run %d: %w", id, err)
		}
		run = s.shown(r).run(id)
		b := t.bs[bRunEntries].Bucket(u64(id))
		if b == nil {
			if r.Entries != 0 {
				return fmt.Errorf("run %d: %w: its %d entries are missing", id, ErrCorrupt, r.Entries)
			}
			return nil
		}
		run.Entries = make([]RunEntry, 0, max(min(r.Entries, 1<<20), 0))
		err = b.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(t.open(bRunEntries, k, v))
			if err != nil {
				return fmt.Errorf("run %d entry %x: %w", id, k, err)
			}
			run.Entries = append(run.Entries, e)
			return nil
		})
		if err != nil {
			return err
		}
		if len(run.Entries) != r.Entries {
			return fmt.Errorf("run %d: %w: %d entries found, %d journaled (entries were lost or added by damage)", id, ErrCorrupt, len(run.Entries), r.Entries)
		}
		return nil
	})
	return run, err
}

// RunOptions returns the options a run was applied with.
func (s *Store) RunOptions(id uint64) (Options, error) {
	var o Options
	err := s.view(func(t *txKV) error {
		v := t.get(bRuns, u64(id))
		if v == nil {
			return fmt.Errorf("run %d: %w", id, ErrNotFound)
		}
		r, err := decodeRun(v)
		if err != nil {
			return fmt.Errorf("run %d: %w", id, err)
		}
		if r.Options != nil {
			o = *r.Options
		}
		return nil
	})
	return o, err
}

// count adds one entry's action to c.
func (c *Counts) count(a Action) {
	switch a {
	case ActionCreated:
		c.Created++
	case ActionUpdated:
		c.Updated++
	case ActionUnchanged:
		c.Unchanged++
	case ActionSkipped:
		c.Skipped++
	case ActionFailed:
		c.Failed++
	case ActionRemoved:
		c.Removed++
	case ActionDisabled:
		c.Disabled++
	}
}

// Fail journals a run that failed before it could start — typically a sync
// whose directory could not be read — with cause as its error and no
// entries, so that the audit trail shows the attempt. It changes nothing
// else.
func (s *Store) Fail(in Input, cause error) (*Run, error) {
	now := s.now()
	opts := in.Options
	hdr := &runRec{Started: now.UnixNano(), Finished: now.UnixNano(), Actor: in.Actor, Source: in.Source,
		Command: in.Command, Status: RunFailed, Mode: in.mode(), Note: in.Note, Options: &opts}
	if cause != nil {
		hdr.Error = cause.Error()
	}
	var id uint64
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		id, err = newRun(tx, hdr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("journal the failed run: %w", err)
	}
	r := hdr.run(id)
	return &r, nil
}

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

// interruptStale marks runs still "running" as interrupted: Open holds the
// exclusive lock, so the process that ran them is gone.
func interruptStale(tx *bolt.Tx, now time.Time) error {
	runs := tx.Bucket(bucketNames[bRuns])
	type stale struct {
		k []byte
		r *runRec
	}
	var found []stale
	err := runs.ForEach(func(k, v []byte) error {
		r, err := decodeRun(v)
		if err != nil {
			return nil // Check reports it; it must not keep the store shut
		}
		if r.Status == RunRunning {
			found = append(found, stale{append([]byte(nil), k...), r})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range found {
		f.r.Status = RunInterrupted
		f.r.Finished = now.UnixNano()
		if f.r.Error == "" {
			f.r.Error = "the process running it ended before it finished; the batches already written stay"
		}
		if err := runs.Put(f.k, encode(f.r)); err != nil {
			return err
		}
	}
	return nil
}

// putRunHeader writes a run header.
func putRunHeader(tx *bolt.Tx, id uint64, r *runRec) error {
	return tx.Bucket(bucketNames[bRuns]).Put(u64(id), encode(r))
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
	b := tx.Bucket(bucketNames[bRunEntries]).Bucket(u64(id))
	if b == nil {
		return fmt.Errorf("%w: run %d has no entries bucket", ErrCorrupt, id)
	}
	b.FillPercent = appendFill // entries are appended in sequence
	for i := range entries {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(u64(seq), encode(&entries[i])); err != nil {
			return err
		}
	}
	return nil
}

// ListRuns returns the journal's runs, newest first, without entries.
func (s *Store) ListRuns() ([]Run, error) {
	runs := []Run{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketNames[bRuns]).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			r, err := decodeRun(v)
			if err != nil {
				return fmt.Errorf("run %d: %w", binary.BigEndian.Uint64(k), err)
			}
			runs = append(runs, r.run(binary.BigEndian.Uint64(k)))
		}
		return nil
	})
	return runs, err
}

// GetRun returns one run with its entries.
func (s *Store) GetRun(id uint64) (Run, error) {
	var run Run
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketNames[bRuns]).Get(u64(id))
		if v == nil {
			return fmt.Errorf("run %d: %w", id, ErrNotFound)
		}
		r, err := decodeRun(v)
		if err != nil {
			return fmt.Errorf("run %d: %w", id, err)
		}
		run = r.run(id)
		b := tx.Bucket(bucketNames[bRunEntries]).Bucket(u64(id))
		if b == nil {
			return nil
		}
		run.Entries = make([]RunEntry, 0, max(r.Entries, 0))
		return b.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("run %d entry %x: %w", id, k, err)
			}
			run.Entries = append(run.Entries, e)
			return nil
		})
	})
	return run, err
}

// RunOptions returns the options a run was applied with.
func (s *Store) RunOptions(id uint64) (Options, error) {
	var o Options
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketNames[bRuns]).Get(u64(id))
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
		Command: in.Command, Status: RunFailed, Mode: in.mode(), Options: &opts}
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

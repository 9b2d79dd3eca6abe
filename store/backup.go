package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store to path, as of one read
// transaction (bbolt's Tx.WriteTo), so it may run while the store is open
// to write elsewhere in this process. The copy is written to a temporary
// file next to path (mode 0600), synced, and checked with VerifyFile
// before it takes path's name: path never holds a partial or damaged copy.
// An existing path is refused with ErrExists unless replace is set; then
// it is replaced in one rename. The store's own file is always refused. A
// damaged store is ErrCorrupt, and nothing is written. It returns the
// copy's size.
func (s *Store) Backup(path string, replace bool) (int64, error) {
	if path == "" {
		return 0, fmt.Errorf("%w: no backup path given", ErrInvalid)
	}
	if same(path, s.path) {
		return 0, fmt.Errorf("%w: %s is the store itself; choose another file", ErrInvalid, path)
	}
	if info, err := os.Lstat(path); err == nil {
		if info.IsDir() {
			return 0, fmt.Errorf("%w: %s is a directory; name the file to write", ErrInvalid, path)
		}
		if !replace {
			return 0, fmt.Errorf("%s already exists; choose another name, or replace it with --force: %w", path, ErrExists)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("back up store %s: %w", s.path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var n int64
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		n, err = tx.WriteTo(tmp)
		return err
	})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("back up store %s to %s: %w", s.path, path, err)
	}
	rep, err := VerifyFile(tmp.Name(), nil)
	if err != nil {
		return 0, fmt.Errorf("check the copy of store %s: %w", s.path, err)
	}
	if !rep.OK() {
		return 0, damaged(s.path, "no backup was written", rep.Problems...)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); err == nil {
		os.Remove(tmp.Name())
	} else if errors.Is(err, fs.ErrExist) {
		return 0, fmt.Errorf("%s already exists; choose another name, or replace it with --force: %w", path, ErrExists)
	} else if _, serr := os.Lstat(path); errors.Is(serr, fs.ErrNotExist) {
		err = os.Rename(tmp.Name(), path) // a file system without hard links
	}
	if err != nil {
		return 0, fmt.Errorf("back up store %s to %s: %w", s.path, path, err)
	}
	done = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // the new name, durably
		d.Close()
	}
	return n, nil
}

// same reports whether paths a and b name the same existing file.
func same(a, b string) bool {
	ia, err := os.Stat(a)
	if err != nil {
		return false
	}
	ib, err := os.Stat(b)
	return err == nil && os.SameFile(ia, ib)
}

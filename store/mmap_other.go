//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"io"
	"os"
	"time"
)

// mapFile reads the first size bytes of f (no mmap on this system).
func mapFile(f *os.File, size int) ([]byte, func(), error) {
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, nil, err
	}
	return b, func() {}, nil
}

// lockFile leaves locking to bbolt on this system.
func lockFile(*os.File, bool, time.Duration) (bool, error) { return true, nil }

// releaseResident does nothing where madvise is not available.
func (s *Store) releaseResident() {}

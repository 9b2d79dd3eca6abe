//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mapFile maps the first size bytes of f read-only. Reading the mapping
// past the end of a file that shrank faults: callers set
// debug.SetPanicOnFault.
func mapFile(f *os.File, size int) ([]byte, func(), error) {
	if size == 0 {
		return nil, func() {}, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { syscall.Munmap(b) }, nil
}

// lockFile takes an advisory lock on f, shared or exclusive, as bbolt
// takes it (bbolt's own lock on the same file then succeeds at once),
// waiting up to timeout for another process to let go.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) (bool, error) {
	how := syscall.LOCK_SH | syscall.LOCK_NB
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err == nil {
			return true, nil
		}
		if err != syscall.EWOULDBLOCK {
			return false, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// releaseResident tells the kernel that the pages of the store's mapping
// may leave this process's resident memory (MADV_DONTNEED: the file's
// pages stay in the page cache, and a later read faults them back in). It
// runs inside a read transaction, which holds bbolt's mapping in place,
// so the range is the mapping's own. A large import calls it after each
// batch: the pages it wrote need not all stay resident.
func (s *Store) releaseResident() {
	_ = s.db.DB.View(func(tx *bolt.Tx) error {
		info := s.db.DB.Info()
		size := uintptr(tx.Size()) &^ uintptr(info.PageSize-1)
		if info.Data == 0 || size == 0 {
			return nil
		}
		syscall.Syscall(syscall.SYS_MADVISE, info.Data, size, uintptr(syscall.MADV_DONTNEED))
		return nil
	})
}

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"os"
	"syscall"
	"time"
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

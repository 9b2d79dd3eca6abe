package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout of the store this usersync writes. Older
// stores are migrated on Open; newer ones are refused with ErrNewerSchema.
const SchemaVersion = 1

// DefaultBatchSize is the number of entries Apply writes per transaction:
// 5000 writes 100k users from LDAP (random entryUUID keys) ≈10% faster than
// 2000, and a batch still takes well under 100 ms (Esc stops between them).
const DefaultBatchSize = 5000

// DefaultLockTimeout is how long Open waits for another process to let go
// of the file.
const DefaultLockTimeout = time.Second

var (
	keyMagic  = []byte("magic")
	keySchema = []byte("schema")
	magic     = []byte("usersync")
)

// Store is the application's user store, one bbolt file. Its methods are
// safe for concurrent use; bbolt serializes the writes.
type Store struct {
	db    *bolt.DB
	path  string
	batch int
	now   func() time.Time
}

// OpenOptions tune Open.
type OpenOptions struct {
	// LockTimeout is how long to wait for another process to release the
	// file before returning ErrInUse (default 1s).
	LockTimeout time.Duration
	// ReadOnly opens without the right to write.
	ReadOnly bool
	// BatchSize is the number of entries written per transaction (default 5000).
	BatchSize int
}

// storeError is an error whose text is written for a person, and which
// matches a sentinel with errors.Is.
type storeError struct {
	msg  string
	kind error
	err  error
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

func newError(kind, cause error, format string, args ...any) error {
	return &storeError{msg: fmt.Sprintf(format, args...), kind: kind, err: cause}
}

// Open opens the store at path, creating it (mode 0600, parent dirs 0700)
// and seeding default roles when missing. It migrates older schemas, marks
// runs left running by a dead process as interrupted, and returns ErrInUse,
// ErrNotStore or ErrNewerSchema (wrapped with a message for a person).
func Open(path string, opts *OpenOptions) (*Store, error) {
	var o OpenOptions
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if path == "" {
		return nil, fmt.Errorf("%w: no store path given", ErrInvalid)
	}
	if !o.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create the store's directory: %w", err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open store %s read-only: %w", path, err)
	}
	if err := looksLikeBolt(path); err != nil {
		return nil, err
	}
	db, err := openBolt(path, &bolt.Options{
		Timeout:      o.LockTimeout,
		ReadOnly:     o.ReadOnly,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, batch: o.BatchSize, now: time.Now}
	if err := s.prepare(o.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the file with bbolt, turning its errors (and the panics
// and faults a damaged file can cause) into the store's.
func openBolt(path string, opts *bolt.Options) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, newError(ErrNotStore, nil, "%s is not a usersync store (unreadable: %v)", path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, opts)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, newError(ErrInUse, err, "store %s is in use by another usersync process (close it, or use --store to pick another file)", path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, newError(ErrNotStore, err, "%s is not a usersync store (%v)", path, err)
	}
	return nil, fmt.Errorf("open store %s: %w", path, err)
}

// boltMagic marks a bbolt meta page, 16 bytes into the page.
const boltMagic = 0xED0CDAED

// looksLikeBolt refuses, before bbolt maps it, a non-empty file that has no
// bbolt meta page where bbolt would look for one, or that is shorter than
// its two meta pages: mapping such a file can fault.
func looksLikeBolt(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	size := info.Size()
	if size == 0 {
		return nil // a new, empty file: bbolt initializes it
	}
	if info.IsDir() {
		return newError(ErrNotStore, nil, "%s is not a usersync store (it is a directory)", path)
	}
	pageSize := func(off int64) (int64, bool) {
		var buf [28]byte
		if _, err := f.ReadAt(buf[:], off); err != nil && err != io.EOF {
			return 0, false
		}
		if binary.NativeEndian.Uint32(buf[16:]) != boltMagic {
			return 0, false
		}
		return int64(binary.NativeEndian.Uint32(buf[24:])), true
	}
	ps, ok := pageSize(0)
	for i := 0; !ok && i <= 14; i++ { // meta page 1, as bbolt looks for it
		if off := int64(1024) << i; off < size {
			ps, ok = pageSize(off)
		}
	}
	if !ok || ps < 512 || size < 2*ps {
		return newError(ErrNotStore, nil, "%s is not a usersync store", path)
	}
	return nil
}

// prepare checks the store's magic and schema, initializes or migrates it,
// and marks runs left running as interrupted.
func (s *Store) prepare(readOnly bool) error {
	check := func(tx *bolt.Tx) (int, error) {
		meta := tx.Bucket(bucketNames[bMeta])
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return errStop })
			if !empty {
				return 0, newError(ErrNotStore, nil, "%s is not a usersync store (a bbolt file of another program)", s.path)
			}
			return 0, nil
		}
		if !bytes.Equal(meta.Get(keyMagic), magic) {
			return 0, newError(ErrNotStore, nil, "%s is not a usersync store (no usersync marker)", s.path)
		}
		v := meta.Get(keySchema)
		if len(v) != 8 {
			return 0, newError(ErrNotStore, nil, "%s is not a usersync store (no schema version)", s.path)
		}
		ver := binary.BigEndian.Uint64(v)
		if ver > SchemaVersion {
			return 0, newError(ErrNewerSchema, nil, "store schema %d is newer than this usersync supports (%d); upgrade usersync", ver, SchemaVersion)
		}
		return int(ver), nil
	}
	if readOnly {
		return s.db.View(func(tx *bolt.Tx) error {
			ver, err := check(tx)
			if err == nil && ver < SchemaVersion {
				err = fmt.Errorf("store %s has schema %d and needs upgrading to %d: open it once without read-only", s.path, ver, SchemaVersion)
			}
			return err
		})
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		ver, err := check(tx)
		if err != nil {
			return err
		}
		for ; ver < SchemaVersion; ver++ {
			if err := migrations[ver](tx, s.now()); err != nil {
				return fmt.Errorf("migrate store %s from schema %d to %d: %w", s.path, ver, ver+1, err)
			}
			if err := tx.Bucket(bucketNames[bMeta]).Put(keySchema, u64(uint64(ver+1))); err != nil {
				return err
			}
		}
		return interruptStale(tx, s.now())
	})
}

// migrations[v] takes a store from schema v to v+1, inside the transaction
// that records the new version. Schema 0 is an empty file.
var migrations = []func(tx *bolt.Tx, now time.Time) error{
	0: initSchema1,
}

// DefaultRoles are the roles a new store starts with.
var DefaultRoles = []Role{
	{Name: "Viewer", Description: "Can see the application's data, change nothing"},
	{Name: "Editor", Description: "Can see and change the application's data"},
	{Name: "Administrator", Description: "Can do everything, including managing users, groups and roles"},
}

func initSchema1(tx *bolt.Tx, _ time.Time) error {
	for _, name := range bucketNames {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketNames[bMeta])
	if err := meta.Put(keyMagic, magic); err != nil {
		return err
	}
	roles := tx.Bucket(bucketNames[bRoles])
	for _, r := range DefaultRoles {
		if err := roles.Put([]byte(Fold(r.Name)), encode(r)); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// view runs fn in a read transaction.
func (s *Store) view(fn func(t *txKV) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		t, err := newTxKV(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

// update runs fn in a write transaction.
func (s *Store) update(fn func(t *txKV) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		t, err := newTxKV(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout of the store this usersync writes. Older
// stores are migrated on Open (schema 2 added a checksum to every value
// and the counts bucket); newer ones are refused with ErrNewerSchema. A
// store opened read-only is read as it is, and never migrated.
const SchemaVersion = 2

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
	db       *guardedDB
	path     string
	file     *os.File // the file bbolt reads, which Verify reads too
	batch    int
	pause    time.Duration // OpenOptions.BatchPause
	readOnly bool
	now      func() time.Time
	// pagesChecked is the transaction whose pages Open checked: until a
	// write, a store opened to write (locked against other writers) still
	// has those pages, and the check before the first write need not read
	// them again.
	pagesChecked uint64
	// sums are the page sums of the file's state when it is known sound
	// (see pagesums.go), nil when it is not: found matching at Open (then
	// compared again before the first write), or taken once the check
	// before the first write passed, and kept up to date by every write.
	// Held under db.writing once the store is open.
	sums *pageSums
}

// OpenOptions tune Open.
type OpenOptions struct {
	// LockTimeout is how long to wait for another process to release the
	// file before returning ErrInUse (default 1s).
	LockTimeout time.Duration
	// ReadOnly opens without the right to write, sharing the file with
	// other readers: nothing is migrated or marked, the file's bytes never
	// change, and a file the user may only read can be opened.
	ReadOnly bool
	// BatchSize is the number of entries written per transaction (default 5000).
	BatchSize int
	// BatchPause is how long Apply waits before writing each batch (0, the
	// default: no wait). It is for demonstrations: with a small BatchSize,
	// an import of a few thousand entries then runs at a pace a person can
	// watch — the progress, its rate and ETA, and a cancel between batches.
	// A cancelled context ends the wait at once.
	BatchPause time.Duration
}

func (o *OpenOptions) defaults() OpenOptions {
	var d OpenOptions
	if o != nil {
		d = *o
	}
	if d.LockTimeout <= 0 {
		d.LockTimeout = DefaultLockTimeout
	}
	if d.BatchSize <= 0 {
		d.BatchSize = DefaultBatchSize
	}
	return d
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

// damageError is a damaged store, as a person reads it: the file, what is
// wrong with it, and what to do. It matches ErrCorrupt.
type damageError struct {
	path     string
	problems []string
	note     string // what was not done, e.g. "nothing was written"
}

func (e *damageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "store %s is damaged: ", e.path)
	if len(e.problems) == 0 {
		b.WriteString("unreadable")
	} else {
		b.WriteString(e.problems[0])
	}
	if n := len(e.problems) - 1; n > 0 {
		fmt.Fprintf(&b, " (and %d more problems)", n)
	}
	if e.note != "" {
		b.WriteString("; " + e.note)
	}
	b.WriteString(". " + restoreAdvice)
	return b.String()
}

func (e *damageError) Unwrap() error { return ErrCorrupt }

// damaged is the damageError of path for problems.
func damaged(path, note string, problems ...string) error {
	return &damageError{path: path, problems: problems, note: note}
}

// detail is the text of an error that wraps ErrCorrupt, without the
// sentinel's own words.
func detail(err error) string {
	var d *damageError
	if errors.As(err, &d) {
		return strings.Join(d.problems, "; ")
	}
	return strings.ReplaceAll(err.Error(), ErrCorrupt.Error()+": ", "")
}

// Open opens the store at path, creating it (mode 0600, parent dirs 0700)
// and seeding default roles when missing. Before bbolt reads the file it
// checks its page structure (checkPages: a few tens of milliseconds for
// 100k users), so that a damaged file is reported instead of crashing the
// process — or, when the page sums kept beside the store (path + ".sums",
// see pagesums.go) show the file to be a state already found sound, byte
// for byte, it compares those instead (about 15 ms). It migrates older schemas and marks runs left running by a dead
// process as interrupted — writing only when there is something to do, and
// only once the store is checked sound, as before every Store's first
// write (see checkBeforeWrite). It returns ErrInUse,
// ErrNotStore, ErrNewerSchema or ErrCorrupt, wrapped with a message for a
// person.
func Open(path string, opts *OpenOptions) (*Store, error) {
	o := opts.defaults()
	s, err := openStore(path, o, true)
	if err != nil {
		return nil, err
	}
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openStore opens, locks and checks the file and hands it to bbolt. With
// useSums, a file that matches the page sums of a sound state of it is not
// walked page by page: it is that state.
func openStore(path string, o OpenOptions, useSums bool) (*Store, error) {
	f, m, err := openFile(path, o)
	if err != nil {
		return nil, err
	}
	var sums *pageSums
	if m != nil && useSums {
		sums = loadSums(path)
		if free, ok := sums.matches(f, *m); ok {
			sums.free = free
		} else {
			sums = nil
		}
	}
	if m != nil && sums == nil {
		if problems := checkPages(f, *m); len(problems) > 0 {
			f.Close()
			return nil, damaged(path, "", problems...)
		}
	}
	db, err := openBolt(f, path, o)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, file: f, batch: o.BatchSize, pause: max(0, o.BatchPause), readOnly: o.ReadOnly, now: time.Now, sums: sums}
	if m != nil && sums == nil {
		s.pagesChecked = m.txid
	}
	s.db = &guardedDB{DB: db, path: path, readOnly: o.ReadOnly, verify: s.checkBeforeWrite, written: s.written}
	return s, nil
}

// openFile opens and locks the store file — exclusively to write, shared to
// read — and reads its meta page (nil for an empty file, which bbolt
// initializes).
func openFile(path string, o OpenOptions) (*os.File, *boltMeta, error) {
	if path == "" {
		return nil, nil, fmt.Errorf("%w: no store path given", ErrInvalid)
	}
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return nil, nil, newError(ErrNotStore, nil, "%s is not a usersync store (it is a directory)", path)
	case err != nil && o.ReadOnly:
		return nil, nil, fmt.Errorf("open store %s read-only: %w", path, err)
	}
	flag := os.O_RDONLY
	if !o.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, nil, fmt.Errorf("create the store's directory: %w", err)
		}
		flag = os.O_RDWR | os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open store %s: %w", path, err)
	}
	locked, err := lockFile(f, !o.ReadOnly, o.LockTimeout)
	if err != nil || !locked {
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("lock store %s: %w", path, err)
		}
		return nil, nil, newError(ErrInUse, nil, "store %s is in use by another usersync process (close it, or use --store to pick another file)", path)
	}
	if info, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if info.Size() == 0 {
		if o.ReadOnly {
			f.Close()
			return nil, nil, newError(ErrNotStore, nil, "%s is not a usersync store (an empty file)", path)
		}
		return f, nil, nil
	}
	m, err := readMeta(f, info.Size(), path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, &m, nil
}

// openBolt hands the open, locked file f to bbolt, turning bbolt's errors
// (and the panics and faults a damaged file can cause) into the store's.
// f is closed when it fails.
func openBolt(f *os.File, path string, o OpenOptions) (db *bolt.DB, err error) {
	given := false
	opts := &bolt.Options{
		Timeout:      o.LockTimeout,
		ReadOnly:     o.ReadOnly,
		FreelistType: bolt.FreelistMapType,
		// bbolt opens the store with this: the file already open and
		// locked (bbolt's lock on it then succeeds at once). Any other
		// file it opens, it opens itself.
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			if !given && name == path {
				given = true
				return f, nil
			}
			return os.OpenFile(name, flag, mode)
		},
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			f.Close()
			db, err = nil, damaged(path, "", fmt.Sprintf("bbolt cannot open it (%v)", r))
		}
	}()
	db, err = bolt.Open(path, 0o600, opts)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, newError(ErrInUse, err, "store %s is in use by another usersync process (close it, or use --store to pick another file)", path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, newError(ErrNotStore, err, "%s is not a usersync store (%v)", path, err)
	case errors.Is(err, berrors.ErrChecksum):
		return nil, damaged(path, "", err.Error())
	}
	return nil, fmt.Errorf("open store %s: %w", path, err)
}

// readSchema reads the schema version in the meta bucket: 8 bytes in
// schema 1, sealed from schema 2 on.
func readSchema(meta *bolt.Bucket) (int, error) {
	v := meta.Get(keySchema)
	var ver uint64
	switch len(v) {
	case 0:
		return 0, fmt.Errorf("%w: the schema version is missing", ErrCorrupt)
	case 8:
		ver = binary.BigEndian.Uint64(v)
		if ver >= 2 && ver <= SchemaVersion {
			return 0, fmt.Errorf("%w: schema %d without its checksum", ErrCorrupt, ver)
		}
	case 8 + sealSize:
		p, ok := unseal(keySchema, v)
		if !ok {
			return 0, fmt.Errorf("%w: the schema version fails its checksum", ErrCorrupt)
		}
		ver = binary.BigEndian.Uint64(p)
	default:
		return 0, fmt.Errorf("%w: the schema version is %d bytes long", ErrCorrupt, len(v))
	}
	if ver == 0 || ver > math.MaxInt32 {
		return 0, fmt.Errorf("%w: schema version %d", ErrCorrupt, ver)
	}
	return int(ver), nil
}

// putSchema records the schema version, in the form readSchema expects.
func putSchema(meta *bolt.Bucket, ver int) error {
	v := u64(uint64(ver))
	if ver >= 2 {
		v = seal(keySchema, v)
	}
	return meta.Put(keySchema, v)
}

// readHeader checks the store's magic and returns its schema version: 0
// for an empty bbolt file.
func readHeader(tx *bolt.Tx, path string) (int, error) {
	meta := tx.Bucket(bucketNames[bMeta])
	if meta == nil {
		buckets, ours := 0, 0
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			buckets++
			for _, n := range bucketNames {
				if bytes.Equal(name, n) {
					ours++
				}
			}
			return nil
		})
		switch {
		case buckets == 0:
			return 0, nil
		case ours >= 3: // a usersync store whose meta bucket is lost
			return 0, fmt.Errorf("%w: bucket meta is missing", ErrCorrupt)
		}
		return 0, newError(ErrNotStore, nil, "%s is not a usersync store (a bbolt file of another program)", path)
	}
	if !bytes.Equal(meta.Get(keyMagic), magic) {
		if _, ok := unseal(keySchema, meta.Get(keySchema)); ok {
			// The schema is sealed as usersync seals it: the marker is
			// damaged, the file is ours.
			return 0, fmt.Errorf("%w: the usersync marker is damaged", ErrCorrupt)
		}
		return 0, newError(ErrNotStore, nil, "%s is not a usersync store (no usersync marker)", path)
	}
	ver, err := readSchema(meta)
	if err != nil {
		return 0, err
	}
	if ver > SchemaVersion {
		return 0, newError(ErrNewerSchema, nil, "store schema %d is newer than this usersync supports (%d); upgrade usersync", ver, SchemaVersion)
	}
	return ver, nil
}

// prepare checks the store's magic and schema and, when it may write,
// migrates an older schema and marks runs left running as interrupted. It
// writes nothing when nothing needs doing.
func (s *Store) prepare() error {
	var ver int
	var stale bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v, err := readHeader(tx, s.path)
		if err != nil || v == 0 {
			ver = v
			return err
		}
		ver = v
		t, err := newTxKV(tx)
		if err != nil {
			return err
		}
		ids, err := staleRuns(t)
		stale = len(ids) > 0
		return err
	})
	if err != nil {
		return err
	}
	if s.readOnly {
		if ver == 0 {
			return newError(ErrNotStore, nil, "%s is not a usersync store (an empty bbolt file)", s.path)
		}
		return nil
	}
	if ver == SchemaVersion && !stale {
		return nil
	}
	// The first write: Update checks the whole store first (a store with
	// an older schema is checked by that schema's rules, so that damage is
	// never sealed in by the migration).
	return s.db.Update(func(tx *bolt.Tx) error {
		ver, err := readHeader(tx, s.path)
		if err != nil {
			return err
		}
		for ; ver < SchemaVersion; ver++ {
			if err := migrations[ver](tx, s.now()); err != nil {
				return fmt.Errorf("migrate store %s from schema %d to %d: %w", s.path, ver, ver+1, err)
			}
			if err := putSchema(tx.Bucket(bucketNames[bMeta]), ver+1); err != nil {
				return err
			}
		}
		return interruptStale(tx, s.now())
	})
}

// DefaultRoles are the roles a new store starts with.
var DefaultRoles = []Role{
	{Name: "Viewer", Description: "Can see the application's data, change nothing"},
	{Name: "Editor", Description: "Can see and change the application's data"},
	{Name: "Administrator", Description: "Can do everything, including managing users, groups and roles"},
}

// initSchema1 lays out an empty file as schema 1; migrations[1] then
// takes it to schema 2, as it does an older store.
func initSchema1(tx *bolt.Tx, _ time.Time) error {
	for _, name := range bucketNames[:schema1Buckets] {
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

// ReadOnly reports whether the store was opened read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

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

// guardedDB is the store's bbolt handle: bbolt's View and Update, guarded.
// A transaction that meets a damaged page or value — bbolt panics or
// faults, or a value fails its seal — ends with an error wrapping
// ErrCorrupt instead of crashing the process. The first write transaction
// is preceded by a check of the whole store, every write transaction is
// followed by keeping the page sums of what it wrote, and once the store
// is found damaged (by that check or by any transaction) no write
// transaction starts: the file keeps its bytes, and its sums are removed.
type guardedDB struct {
	*bolt.DB
	path     string
	readOnly bool
	// verify checks the store before its first write
	// (Store.checkBeforeWrite).
	verify func() (*Report, error)
	// written follows every write transaction, holding writing
	// (Store.written).
	written func()

	// writing is held by every write transaction, and by Verify, which
	// must not see a write under way.
	writing  sync.Mutex
	checking sync.Mutex // serializes the first write's check
	checked  atomic.Bool
	damage   atomic.Pointer[damageError]
}

// View runs fn in a read transaction, guarded.
func (d *guardedDB) View(fn func(*bolt.Tx) error) (err error) {
	defer d.recoverTx(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return d.explain(d.DB.View(fn))
}

// Update runs fn in a write transaction, guarded, once the store is known
// to be sound.
func (d *guardedDB) Update(fn func(*bolt.Tx) error) (err error) {
	if d.readOnly {
		return d.DB.Update(fn) // bbolt refuses it
	}
	if err := d.beforeWrite(); err != nil {
		return err
	}
	d.writing.Lock()
	defer d.writing.Unlock()
	defer d.written()
	defer d.recoverTx(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return d.explain(d.DB.Update(fn))
}

// beforeWrite checks the whole store before its first write, and refuses
// every write to a store found damaged.
func (d *guardedDB) beforeWrite() error {
	if e := d.damage.Load(); e != nil {
		return e
	}
	if d.checked.Load() {
		return nil
	}
	d.checking.Lock()
	defer d.checking.Unlock()
	if d.checked.Load() {
		return nil
	}
	if e := d.damage.Load(); e != nil {
		return e
	}
	rep, err := d.verify()
	if err != nil {
		return err
	}
	if !rep.OK() {
		e := &damageError{path: d.path, problems: rep.Problems, note: "nothing was written"}
		d.damage.Store(e)
		forgetSums(d.path)
		return e
	}
	d.checked.Store(true)
	return nil
}

// recoverTx ends a transaction that panicked — bbolt on a damaged page, or
// the key-value layer on a damaged value — with an error. It is deferred.
func (d *guardedDB) recoverTx(err *error) {
	r := recover()
	if r == nil {
		return
	}
	var e error
	if c, ok := r.(corruption); ok {
		e = c.err
	} else {
		e = fmt.Errorf("%w: reading it failed (%v)", ErrCorrupt, r)
	}
	*err = d.explain(e)
}

// explain words an error that wraps ErrCorrupt for a person, naming the
// file and what to do, and remembers that the store is damaged.
func (d *guardedDB) explain(err error) error {
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return err
	}
	var e *damageError
	if !errors.As(err, &e) {
		e = &damageError{path: d.path, problems: []string{detail(err)}}
	}
	if !d.readOnly && d.damage.CompareAndSwap(nil, &damageError{path: d.path, problems: e.problems, note: "nothing was written"}) {
		forgetSums(d.path) // whatever state they vouch for, it is not believed
	}
	return e
}

package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// bucketID names one of the store's top-level buckets.
type bucketID int

// The buckets of schema 2. Keys:
//
//	meta            "magic" → "usersync", "schema" → 8-byte big-endian version
//	                (schema 1: just that; schema 2 and later: sealed)
//	users           8-byte id → user record (JSON)
//	idx_user_name   folded username → id
//	idx_user_ext    source \x00 external ID → id
//	idx_user_email  folded email \x00 id → empty
//	groups, idx_group_name, idx_group_ext: the same for groups
//	members         group id + user id → empty
//	member_of       user id + group id → empty
//	roles           folded role name → role record (JSON)
//	runs            8-byte run id → run header (JSON)
//	run_entries     8-byte run id → bucket of 8-byte seq → entry (JSON)
//	counts          (schema 2) what reads check they saw whole:
//	                "roles" → number of roles;
//	                'm' + group id → number of members (absent: none);
//	                'g' + user id → number of groups (absent: none);
//	                8-byte big-endian numbers
//
// In schema 2 every value but the meta bucket's magic ends with a seal
// (see seal). Reads that must see a list whole check it against another
// number: a group's members and a user's groups against the counts, the
// name indexes against the number of records, the runs against the runs
// bucket's sequence (runs are never deleted), and a run's entries against
// its header.
const (
	bMeta bucketID = iota
	bUsers
	bUserName
	bUserExt
	bUserEmail
	bGroups
	bGroupName
	bGroupExt
	bMembers
	bMemberOf
	bRoles
	bRuns
	bRunEntries
	bCounts
	numBuckets
)

var bucketNames = [numBuckets][]byte{
	bMeta:       []byte("meta"),
	bUsers:      []byte("users"),
	bUserName:   []byte("idx_user_name"),
	bUserExt:    []byte("idx_user_ext"),
	bUserEmail:  []byte("idx_user_email"),
	bGroups:     []byte("groups"),
	bGroupName:  []byte("idx_group_name"),
	bGroupExt:   []byte("idx_group_ext"),
	bMembers:    []byte("members"),
	bMemberOf:   []byte("member_of"),
	bRoles:      []byte("roles"),
	bRuns:       []byte("runs"),
	bRunEntries: []byte("run_entries"),
	bCounts:     []byte("counts"),
}

// schema1Buckets is how many of bucketNames schema 1 has.
const schema1Buckets = int(bCounts)

// kv is the key-value surface the records and the import rules are written
// against. Two implementations: txKV over a bbolt transaction (Apply and
// every read), and overlayKV, which keeps writes in memory over a read
// transaction (Plan), so that a plan is the apply's own logic, run dry.
type kv interface {
	get(b bucketID, k []byte) []byte
	// put stores v under k; neither may be changed afterwards.
	put(b bucketID, k, v []byte) error
	del(b bucketID, k []byte) error
	// scanIDs calls fn with the trailing 8-byte id of every key of b that is
	// prefix followed by exactly 8 bytes, in increasing key order.
	scanIDs(b bucketID, prefix []byte, fn func(id uint64) error) error
	nextSeq(b bucketID) (uint64, error)
	// counting reports whether the store keeps counts (schema 2 on).
	counting() bool
}

// txKV is kv over a bbolt transaction. In a schema-2 store it seals what
// it puts and checks the seal of what it reads: a value that fails its
// seal abandons the transaction with ErrCorrupt (see corruption).
type txKV struct {
	tx     *bolt.Tx
	bs     [numBuckets]*bolt.Bucket
	schema int
	// lenient makes a value that fails its seal read as missing, for
	// Verify, which reports it and goes on.
	lenient bool
}

func newTxKV(tx *bolt.Tx) (*txKV, error) {
	meta := tx.Bucket(bucketNames[bMeta])
	if meta == nil {
		return nil, fmt.Errorf("%w: bucket meta is missing", ErrCorrupt)
	}
	schema, err := readSchema(meta)
	if err != nil {
		return nil, err
	}
	t := &txKV{tx: tx, schema: schema}
	n := len(bucketNames)
	if schema < 2 {
		n = schema1Buckets
	}
	for i, name := range bucketNames[:n] {
		b := tx.Bucket(name)
		if b == nil {
			return nil, fmt.Errorf("%w: bucket %s is missing", ErrCorrupt, name)
		}
		t.bs[i] = b
	}
	// Users get increasing ids: new ones are appended, so their pages can
	// be filled (bbolt's default of half-full pages suits random keys).
	t.bs[bUsers].FillPercent = appendFill
	return t, nil
}

// appendFill is the fill of the pages of buckets whose keys only grow.
const appendFill = 0.95

func (t *txKV) counting() bool { return t.schema >= 2 }

func (t *txKV) get(b bucketID, k []byte) []byte {
	v := t.bs[b].Get(k)
	if v == nil || t.schema < 2 {
		return v
	}
	return t.open(b, k, v)
}

// open returns the value stored as v under k, without its seal.
func (t *txKV) open(b bucketID, k, v []byte) []byte {
	if t.schema < 2 {
		return v
	}
	p, ok := unseal(k, v)
	if !ok {
		if t.lenient {
			return nil
		}
		damagedValue(b, k)
	}
	return p
}

func (t *txKV) put(b bucketID, k, v []byte) error {
	if t.schema >= 2 {
		v = seal(k, v)
	}
	return t.bs[b].Put(k, v)
}

func (t *txKV) del(b bucketID, k []byte) error { return t.bs[b].Delete(k) }

func (t *txKV) scanIDs(b bucketID, prefix []byte, fn func(uint64) error) error {
	c := t.bs[b].Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+8 {
			continue
		}
		if t.open(b, k, v) == nil && t.schema >= 2 {
			continue // lenient: Verify reports it
		}
		if err := fn(binary.BigEndian.Uint64(k[len(prefix):])); err != nil {
			return err
		}
	}
	return nil
}

func (t *txKV) nextSeq(b bucketID) (uint64, error) {
	if !t.tx.Writable() {
		return 0, bolt.ErrTxNotWritable
	}
	return t.bs[b].NextSequence()
}

// overlayKV keeps writes in memory on top of a read-only kv. Keys of the
// form prefix+8-byte id are also indexed by prefix so that scans stay
// cheap however many writes a plan makes.
type overlayKV struct {
	base kv
	// vals holds written values; a nil value is a deletion.
	vals [numBuckets]map[string][]byte
	// byPrefix: for scanned buckets, prefix → set of ids written under it.
	byPrefix [numBuckets]map[string]map[uint64]bool
	seq      [numBuckets]uint64
}

func newOverlayKV(base kv) *overlayKV {
	o := &overlayKV{base: base}
	for i := range o.vals {
		o.vals[i] = map[string][]byte{}
		o.byPrefix[i] = map[string]map[uint64]bool{}
	}
	return o
}

// scanned lists the buckets read with scanIDs.
func scanned(b bucketID) bool { return b == bUserEmail || b == bMembers || b == bMemberOf }

func (o *overlayKV) get(b bucketID, k []byte) []byte {
	if v, ok := o.vals[b][string(k)]; ok {
		return v
	}
	return o.base.get(b, k)
}

func (o *overlayKV) put(b bucketID, k, v []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	if v == nil {
		v = []byte{}
	}
	o.vals[b][string(k)] = v
	o.note(b, k)
	return nil
}

func (o *overlayKV) del(b bucketID, k []byte) error {
	o.vals[b][string(k)] = nil
	o.note(b, k)
	return nil
}

func (o *overlayKV) note(b bucketID, k []byte) {
	if !scanned(b) || len(k) < 8 {
		return
	}
	p := string(k[:len(k)-8])
	set := o.byPrefix[b][p]
	if set == nil {
		set = map[uint64]bool{}
		o.byPrefix[b][p] = set
	}
	set[binary.BigEndian.Uint64(k[len(k)-8:])] = true
}

func (o *overlayKV) scanIDs(b bucketID, prefix []byte, fn func(uint64) error) error {
	touched := o.byPrefix[b][string(prefix)]
	var ids []uint64
	err := o.base.scanIDs(b, prefix, func(id uint64) error {
		if !touched[id] {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	for id := range touched {
		binary.BigEndian.PutUint64(k[len(prefix):], id)
		if o.vals[b][string(k)] != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

func (o *overlayKV) counting() bool { return o.base.counting() }

func (o *overlayKV) nextSeq(b bucketID) (uint64, error) {
	if o.seq[b] == 0 {
		if t, ok := o.base.(*txKV); ok {
			o.seq[b] = t.bs[b].Sequence()
		}
	}
	o.seq[b]++
	return o.seq[b], nil
}

// u64 is the 8-byte big-endian key of an id.
func u64(id uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, id)
	return k
}

// pair is the key of two ids, as in members and member_of.
func pair(a, b uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	return k
}

// extKey is the key of idx_user_ext and idx_group_ext.
func extKey(source, externalID string) []byte {
	k := make([]byte, 0, len(source)+1+len(externalID))
	k = append(k, source...)
	k = append(k, 0)
	return append(k, externalID...)
}

// emailKey is the key of idx_user_email for one user.
func emailKey(folded string, id uint64) []byte {
	k := make([]byte, len(folded)+9)
	copy(k, folded)
	binary.BigEndian.PutUint64(k[len(folded)+1:], id)
	return k
}

// emailPrefix is the prefix of every idx_user_email key of an address.
func emailPrefix(folded string) []byte {
	return append([]byte(folded), 0)
}

// idOf decodes an id stored as an index value.
func idOf(v []byte) (uint64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// reset forgets every write, for the next dry run over the same base.
func (o *overlayKV) reset() {
	for i := range o.vals {
		if len(o.vals[i]) > 0 {
			clear(o.vals[i])
		}
		if len(o.byPrefix[i]) > 0 {
			clear(o.byPrefix[i])
		}
		o.seq[i] = 0
	}
}

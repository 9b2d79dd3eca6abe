package store

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// migrations[v] takes a store from schema v to v+1, inside the transaction
// that records the new version. Schema 0 is an empty file.
var migrations = []func(tx *bolt.Tx, now time.Time) error{
	0: initSchema1,
	1: sealSchema2,
}

// sealSchema2 takes a schema-1 store to schema 2, in the transaction that
// records the new version: every value gets its seal, and the counts
// bucket is filled from the records. Open runs it only after Verify found
// the schema-1 store sound, so that no damage is sealed in. It rewrites
// the whole file in one transaction: a store of 100k users needs a few
// hundred MB of memory for it, once.
func sealSchema2(tx *bolt.Tx, _ time.Time) error {
	for _, name := range bucketNames[bMeta+1 : schema1Buckets] {
		b := tx.Bucket(name)
		if err := sealBucket(b); err != nil {
			return err
		}
	}
	entries := tx.Bucket(bucketNames[bRunEntries])
	var runs [][]byte
	if err := entries.ForEachBucket(func(k []byte) error {
		runs = append(runs, bytes.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range runs {
		if err := sealBucket(entries.Bucket(k)); err != nil {
			return err
		}
	}

	counts, err := tx.CreateBucket(bucketNames[bCounts])
	if err != nil {
		return err
	}
	put := func(k []byte, n uint64) error {
		if n == 0 {
			return nil
		}
		return counts.Put(k, seal(k, u64(n)))
	}
	n := uint64(0)
	cr := tx.Bucket(bucketNames[bRoles]).Cursor()
	for k, _ := cr.First(); k != nil; k, _ = cr.Next() {
		n++
	}
	if err := put(totalRoles, n); err != nil {
		return err
	}
	// Memberships are keyed by the first id: count runs of equal prefixes.
	for _, c := range []struct {
		b      bucketID
		prefix byte
	}{{bMembers, countMembers}, {bMemberOf, countGroupsOf}} {
		var cur, n uint64
		flush := func() error { return put(countKey(c.prefix, cur), n) }
		cr := tx.Bucket(bucketNames[c.b]).Cursor()
		for k, _ := cr.First(); k != nil; k, _ = cr.Next() {
			if len(k) != 16 {
				continue // Verify reported it before the migration
			}
			if id := binary.BigEndian.Uint64(k); id != cur {
				if err := flush(); err != nil {
					return err
				}
				cur, n = id, 0
			}
			n++
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// sealBucket seals every value of b, a chunk at a time (a cursor does not
// survive the writes).
func sealBucket(b *bolt.Bucket) error {
	type pair struct{ k, v []byte }
	var last []byte
	for {
		var chunk []pair
		c := b.Cursor()
		k, v := c.First()
		if last != nil {
			k, v = c.Seek(last)
			if bytes.Equal(k, last) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(chunk) < 4096; k, v = c.Next() {
			if v != nil { // not a nested bucket
				chunk = append(chunk, pair{bytes.Clone(k), bytes.Clone(v)})
			}
			last = bytes.Clone(k)
		}
		for _, p := range chunk {
			if err := b.Put(p.k, seal(p.k, p.v)); err != nil {
				return err
			}
		}
		if k == nil {
			return nil
		}
	}
}

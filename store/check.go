package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// maxProblems bounds the problems a check reports.
const maxProblems = 50

// Report is what a check of a store file found.
type Report struct {
	// File is the store file checked.
	File string
	// Schema is the store's schema version (0 when it could not be read).
	Schema int
	// Users, Groups, Roles and Runs count the records checked.
	Users, Groups, Roles, Runs int
	// Problems says what is wrong, for a person: empty when the store is
	// sound, at most maxProblems entries and a count of the rest.
	Problems []string
}

// OK reports whether the store was found sound.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Err is nil for a sound store, else an error wrapping ErrCorrupt that
// names the file, the first problem, and what to do.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	return damaged(r.File, "", r.Problems...)
}

// problemList collects problems, at most maxProblems of them.
type problemList struct {
	list []string
	more int
}

func (p *problemList) add(format string, args ...any) {
	if len(p.list) < maxProblems {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	} else {
		p.more++
	}
}

func (p *problemList) done() []string {
	if p.more > 0 {
		return append(p.list, fmt.Sprintf("and %d more problems", p.more))
	}
	return p.list
}

// Check verifies the whole store (see Verify) and returns nil, or an error
// wrapping ErrCorrupt that names the file and lists the problems found.
func (s *Store) Check() error {
	rep, err := s.Verify()
	if err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	return fmt.Errorf("%w\n%s", rep.Err(), strings.Join(rep.Problems, "\n"))
}

// Verify checks the whole store and reports what it found; the error is
// for a store it could not check at all. It checks:
//
//   - the page structure, without trusting it (checkPages), and then
//     bbolt's own tx.Check;
//   - the seal of every value (schema 2 on): a flipped bit anywhere in a
//     key or value is found;
//   - the counts reads rely on to notice lost entries (roles, each
//     group's members, each user's groups), each run's entries against
//     its header, and the bucket sequences that number new records, runs
//     and entries;
//   - the store's rules: every record decodes; every index entry points at
//     a record that has that key, and every record has its index entries;
//     members and member_of mirror each other and name existing users and
//     groups; assignments name existing roles; each run's counts match its
//     journaled entries.
//
// On a store opened to write it waits for a write under way and holds the
// next until it is done. It reads every page and decodes every record:
// about 0.8 s for 100k users.
func (s *Store) Verify() (*Report, error) { return s.verify(true) }

// checkBeforeWrite is the check that precedes a Store's first write: all
// of Verify but the rules, which decode every record and cost most of its
// time (for 100k users it takes about 0.15 s, Verify 0.8 s). A store that passes it is as
// its writer left it — every page where it belongs, every value with its
// seal, no entry lost from a list — so damage that the rules would find
// cannot pass it; what only the rules see is a record written wrong. A
// schema-1 store, which has no seals, gets the rules too: the migration
// must not seal damage in.
//
// A file whose every page in use still has the sum kept for a state known
// sound (see pagesums.go) is that state, byte for byte: comparing the sums
// (about 15 ms for 100k users) takes the place of the rest of the check.
// Once the check passed, the sums of the state it passed are taken.
func (s *Store) checkBeforeWrite() (*Report, error) { return s.verify(false) }

// verify is Verify, with or without the rules.
func (s *Store) verify(rules bool) (*Report, error) {
	if !s.readOnly {
		s.db.writing.Lock()
		defer s.db.writing.Unlock()
	}
	rep := &Report{File: s.path}
	info, err := s.file.Stat()
	if err != nil {
		return nil, fmt.Errorf("check store %s: %w", s.path, err)
	}
	m, err := readMeta(s.file, info.Size(), s.path)
	if err != nil {
		return problemsOf(rep, err)
	}
	if !rules && !s.readOnly && s.sums != nil {
		if free, ok := s.sums.matches(s.file, m); ok {
			s.sums.free = free
			return rep, nil
		}
		s.sums = nil // changed since Open: checked in full
	}
	if rules || s.readOnly || m.txid != s.pagesChecked {
		if problems := checkPages(s.file, m); len(problems) > 0 {
			rep.Problems = problems
			return rep, nil
		}
	}
	if err := s.verifyContents(rep, rules); err != nil {
		return nil, err
	}
	if !rules && !s.readOnly && rep.OK() {
		s.keepSums(m)
	}
	return rep, nil
}

// keepSums takes the page sums of the state m describes, just found
// sound, and keeps them beside the store. It holds db.writing. Sums that
// cannot be taken or kept cost the next Store time, not safety.
func (s *Store) keepSums(m boltMeta) {
	sums, err := takeSums(s.file, m)
	if err == nil {
		err = sums.save(s.path)
	}
	if err != nil {
		s.sums = nil
		forgetSums(s.path)
		return
	}
	s.sums = sums
}

// written follows every write transaction (holding db.writing): the sums
// of the pages it wrote are taken again and kept beside the store, or, on
// a store found damaged, the sums kept are removed.
func (s *Store) written() {
	if s.sums == nil {
		return
	}
	if s.db.damage.Load() != nil {
		s.sums = nil
		forgetSums(s.path)
		return
	}
	txid := s.sums.txid
	info, err := s.file.Stat()
	var m boltMeta
	if err == nil {
		m, err = readMeta(s.file, info.Size(), s.path)
	}
	if err == nil {
		err = s.sums.written(s.file, m)
	}
	if err == nil && s.sums.txid != txid {
		err = s.sums.save(s.path)
	}
	if err != nil {
		s.sums = nil
		forgetSums(s.path)
	}
}

// VerifyFile checks the store file at path as Verify does, without
// opening it as a Store: it reports on files that Open refuses as
// damaged. It opens the file read-only and shares it with other readers;
// a process that writes to it is ErrInUse. A file that is not a store, or
// is missing, is an error (ErrNotStore, fs.ErrNotExist).
func VerifyFile(path string, opts *OpenOptions) (*Report, error) {
	o := opts.defaults()
	o.ReadOnly = true
	rep := &Report{File: path}
	s, err := openStore(path, o, false) // every page is read, whatever its sums say
	if err != nil {
		return problemsOf(rep, err)
	}
	defer s.Close()
	if err := s.verifyContents(rep, true); err != nil {
		return nil, err
	}
	return rep, nil
}

// problemsOf turns an error that found damage into a report of it.
func problemsOf(rep *Report, err error) (*Report, error) {
	var d *damageError
	if errors.As(err, &d) {
		rep.Problems = d.problems
		return rep, nil
	}
	return nil, err
}

// verifyContents checks what Verify checks once the page structure is
// known to be sound (the rules only when rules is set).
func (s *Store) verifyContents(rep *Report, rules bool) error {
	p := &problemList{}
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			p.add("bbolt: %v", err)
		}
		ver, err := readHeader(tx, s.path)
		if errors.Is(err, ErrCorrupt) {
			p.add("%s", detail(err))
			return nil
		}
		if err != nil || ver == 0 {
			return err
		}
		rep.Schema = ver
		t, err := newTxKV(tx)
		if err != nil {
			p.add("%s", detail(err))
			return nil
		}
		t.lenient = true
		c := &contents{t: t, p: p, rep: rep}
		c.buckets()
		c.seals()
		c.records()
		c.counts()
		if rules || ver < 2 { // without seals, only the rules see damage
			c.rules()
		}
		return nil
	})
	if errors.Is(err, ErrCorrupt) {
		p.add("%s", detail(err))
		err = nil
	}
	rep.Problems = p.done()
	return err
}

// contents checks the records of one transaction.
type contents struct {
	t   *txKV
	p   *problemList
	rep *Report

	users  map[uint64]*userRec
	groups map[uint64]*groupRec
	// members and groupsOf count the membership entries of each group and
	// user.
	members, groupsOf map[uint64]uint64
}

// each calls fn with the keys and values of bucket b, without their seals,
// and returns how many values b holds; values that fail their seal
// (reported by seals) and nested buckets are skipped.
func (c *contents) each(b bucketID, fn func(k, v []byte)) int {
	n := 0
	_ = c.t.bs[b].ForEach(func(k, v []byte) error {
		if v == nil {
			return nil
		}
		n++
		if v = c.t.open(b, k, v); v != nil {
			fn(k, v)
		}
		return nil
	})
	return n
}

// buckets checks that the top-level buckets are the schema's.
func (c *contents) buckets() {
	known := map[string]bool{}
	n := len(bucketNames)
	if c.t.schema < 2 {
		n = schema1Buckets
	}
	for _, name := range bucketNames[:n] {
		known[string(name)] = true
	}
	_ = c.t.tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if !known[string(name)] {
			c.p.add("unknown bucket %q", name)
		}
		return nil
	})
	_ = c.t.bs[bMeta].ForEach(func(k, _ []byte) error {
		if !bytes.Equal(k, keyMagic) && !bytes.Equal(k, keySchema) {
			c.p.add("meta: unknown key %q", k)
		}
		return nil
	})
}

// seals checks the seal of every value (schema 2 on).
func (c *contents) seals() {
	if c.t.schema < 2 {
		return
	}
	check := func(b bucketID, k, v []byte) {
		if _, ok := unseal(k, v); !ok {
			c.p.add("%s fails its checksum", describeKey(b, k))
		}
	}
	for b := bMeta + 1; b < numBuckets; b++ {
		where := string(bucketNames[b])
		_ = c.t.bs[b].ForEach(func(k, v []byte) error {
			if v != nil {
				check(b, k, v)
				return nil
			}
			if b != bRunEntries {
				c.p.add("%s: unexpected nested bucket %x", where, k)
				return nil
			}
			sub := c.t.bs[b].Bucket(k)
			_ = sub.ForEach(func(ek, ev []byte) error {
				if ev == nil {
					c.p.add("%s %x: unexpected nested bucket %x", where, k, ek)
				} else if _, ok := unseal(ek, ev); !ok {
					c.p.add("%s of run %s fails its checksum", describeKey(bRunEntries, ek), describeID(k))
				}
				return nil
			})
			return nil
		})
	}
}

// keys counts the values of bucket b (nested buckets aside).
func (c *contents) keys(b bucketID) int {
	n := 0
	cur := c.t.bs[b].Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if v != nil {
			n++
		}
	}
	return n
}

// records counts the records, the memberships of each group and user and
// each run's entries, and checks the bucket sequences, without decoding
// more than the run headers.
func (c *contents) records() {
	t, bad := c.t, c.p.add
	c.rep.Roles, c.rep.Users, c.rep.Groups = c.keys(bRoles), c.keys(bUsers), c.keys(bGroups)
	for _, b := range []bucketID{bUsers, bGroups} {
		k, _ := t.bs[b].Cursor().Last()
		if k == nil {
			continue
		}
		last, ok := idOf(k)
		if !ok {
			bad("%s: key %x is not an id", bucketNames[b], k)
		} else if seq := t.bs[b].Sequence(); seq < last {
			bad("%s: the next id would be %d, but %d is taken", bucketNames[b], seq+1, last)
		}
	}

	c.members, c.groupsOf = map[uint64]uint64{}, map[uint64]uint64{}
	for _, m := range []struct {
		b bucketID
		n map[uint64]uint64
	}{{bMembers, c.members}, {bMemberOf, c.groupsOf}} {
		cur := t.bs[m.b].Cursor()
		for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
			if len(k) != 16 {
				bad("%s: malformed key %x", bucketNames[m.b], k)
				continue
			}
			m.n[binary.BigEndian.Uint64(k)]++
		}
	}

	// The journal: runs are numbered without gaps (they are never
	// deleted); every run has its entries bucket, which holds as many
	// entries as the header says and numbered them.
	headers := map[string]bool{}
	c.rep.Runs = c.each(bRuns, func(k, v []byte) {
		headers[string(k)] = true
		r, err := decodeRun(v)
		if err != nil {
			bad("run %s: %s", describeID(k), detail(err))
			return
		}
		eb := t.bs[bRunEntries].Bucket(k)
		if eb == nil {
			bad("run %s has no entries bucket", describeID(k))
			return
		}
		n := 0
		cur := eb.Cursor()
		for ek, _ := cur.First(); ek != nil; ek, _ = cur.Next() {
			n++
		}
		if n != r.Entries {
			bad("run %s: %d entries journaled, %d found", describeID(k), r.Entries, n)
		}
		if seq := eb.Sequence(); seq != uint64(n) {
			bad("run %s: %d entries, numbered up to %d", describeID(k), n, seq)
		}
	})
	if seq := t.bs[bRuns].Sequence(); seq != uint64(c.rep.Runs) {
		bad("runs: %d runs, numbered up to %d (runs were lost or added)", c.rep.Runs, seq)
	}
	_ = t.bs[bRunEntries].ForEachBucket(func(k []byte) error {
		if !headers[string(k)] {
			bad("run_entries: entries of run %s, which has no header", describeID(k))
		}
		return nil
	})
}

// rules checks records against each other.
func (c *contents) rules() {
	t, bad := c.t, c.p.add
	roles := map[string]bool{}
	c.each(bRoles, func(k, v []byte) {
		r, err := decodeRole(v)
		switch {
		case err != nil:
			bad("role %q: %s", k, detail(err))
		case Fold(r.Name) != string(k):
			bad("role %q is stored under %q", r.Name, k)
		default:
			roles[r.Name] = true
		}
	})
	checkRoles := func(who string, as []Assignment) {
		for _, a := range as {
			if !roles[a.Role] {
				bad("%s holds unknown role %q", who, a.Role)
			}
			if a.Scope == "" {
				bad("%s holds %s without a scope", who, a.Role)
			}
		}
	}

	c.users = map[uint64]*userRec{}
	c.each(bUsers, func(k, v []byte) {
		id, ok := idOf(k)
		if !ok {
			bad("users: key %x is not an id", k)
			return
		}
		u, err := decodeUser(v)
		if err != nil {
			bad("user %d: %s", id, detail(err))
			return
		}
		c.users[id] = u
		if got := lookup(t, bUserName, []byte(Fold(u.Username))); got != id {
			bad("user %d (%s): username index points at %d", id, u.Username, got)
		}
		if u.Kind == External {
			if got := userIDByExt(t, u.Source, u.ExternalID); got != id {
				bad("user %d (%s): external ID index points at %d", id, u.Username, got)
			}
		}
		if e := foldEmail(u.Email); e != "" && t.get(bUserEmail, emailKey(e, id)) == nil {
			bad("user %d (%s): email %q not indexed", id, u.Username, u.Email)
		}
		checkRoles("user "+u.Username, u.Roles)
	})
	c.groups = map[uint64]*groupRec{}
	c.each(bGroups, func(k, v []byte) {
		id, ok := idOf(k)
		if !ok {
			bad("groups: key %x is not an id", k)
			return
		}
		g, err := decodeGroup(v)
		if err != nil {
			bad("group %d: %s", id, detail(err))
			return
		}
		c.groups[id] = g
		if got := lookup(t, bGroupName, []byte(Fold(g.Name))); got != id {
			bad("group %d (%s): name index points at %d", id, g.Name, got)
		}
		if g.Kind == External {
			if got := groupIDByExt(t, g.Source, g.ExternalID); got != id {
				bad("group %d (%s): external ID index points at %d", id, g.Name, got)
			}
		}
		checkRoles("group "+g.Name, g.Roles)
	})

	// Indexes → records.
	index := func(b bucketID, keyOf func(id uint64) (string, bool)) {
		c.each(b, func(k, v []byte) {
			id, ok := idOf(v)
			if !ok {
				bad("%s %q: value is not an id", bucketNames[b], k)
				return
			}
			want, ok := keyOf(id)
			if !ok {
				bad("%s %q points at missing record %d", bucketNames[b], k, id)
			} else if want != string(k) {
				bad("%s %q points at %d, whose key is %q", bucketNames[b], k, id, want)
			}
		})
	}
	index(bUserName, func(id uint64) (string, bool) {
		u, ok := c.users[id]
		if !ok {
			return "", false
		}
		return Fold(u.Username), true
	})
	index(bUserExt, func(id uint64) (string, bool) {
		u, ok := c.users[id]
		if !ok || u.Kind != External {
			return "", false
		}
		return string(extKey(u.Source, u.ExternalID)), true
	})
	index(bGroupName, func(id uint64) (string, bool) {
		g, ok := c.groups[id]
		if !ok {
			return "", false
		}
		return Fold(g.Name), true
	})
	index(bGroupExt, func(id uint64) (string, bool) {
		g, ok := c.groups[id]
		if !ok || g.Kind != External {
			return "", false
		}
		return string(extKey(g.Source, g.ExternalID)), true
	})
	c.each(bUserEmail, func(k, _ []byte) {
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k) != i+9 {
			bad("idx_user_email %q: malformed key", k)
			return
		}
		id := binary.BigEndian.Uint64(k[i+1:])
		if u, ok := c.users[id]; !ok {
			bad("idx_user_email %q points at missing user %d", k[:i], id)
		} else if foldEmail(u.Email) != string(k[:i]) {
			bad("idx_user_email %q points at user %d, whose email is %q", k[:i], id, u.Email)
		}
	})

	// Memberships, both ways.
	pairs := func(b, mirror bucketID, isLeft func(uint64) bool, isRight func(uint64) bool) {
		c.each(b, func(k, _ []byte) {
			if len(k) != 16 {
				return // records reported it
			}
			a, z := binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])
			if !isLeft(a) || !isRight(z) {
				bad("%s %d+%d names a missing user or group", bucketNames[b], a, z)
			}
			if t.get(mirror, pair(z, a)) == nil {
				bad("%s %d+%d has no %s entry", bucketNames[b], a, z, bucketNames[mirror])
			}
		})
	}
	isUser := func(id uint64) bool { _, ok := c.users[id]; return ok }
	isGroup := func(id uint64) bool { _, ok := c.groups[id]; return ok }
	pairs(bMembers, bMemberOf, isGroup, isUser)
	pairs(bMemberOf, bMembers, isUser, isGroup)

	// The journal: each run's counts agree with its entries.
	c.each(bRuns, func(k, v []byte) {
		r, err := decodeRun(v)
		eb := t.bs[bRunEntries].Bucket(k)
		if err != nil || eb == nil {
			return // records reported it
		}
		var cn Counts
		_ = eb.ForEach(func(ek, ev []byte) error {
			if ev == nil {
				return nil
			}
			if ev = t.open(bRunEntries, ek, ev); ev == nil {
				return nil
			}
			e, err := decodeEntry(ev)
			if err != nil {
				bad("run %s entry %s: %s", describeID(k), describeID(ek), detail(err))
				return nil
			}
			cn.count(e.Action)
			return nil
		})
		if cn != r.Counts {
			bad("run %s: header counts %+v, journal has %+v", describeID(k), r.Counts, cn)
		}
	})
}

// counts checks the counts bucket against what records counted (schema
// 2 on).
func (c *contents) counts() {
	if !c.t.counting() {
		return
	}
	bad := c.p.add
	totals := map[string]int{string(totalRoles): c.rep.Roles}
	seen := map[string]bool{}
	counted := map[byte]map[uint64]uint64{countMembers: {}, countGroupsOf: {}}
	c.each(bCounts, func(k, v []byte) {
		n, ok := idOf(v)
		if !ok {
			bad("counts %q: not a number", k)
			return
		}
		if want, ok := totals[string(k)]; ok {
			seen[string(k)] = true
			if n != uint64(want) {
				bad("counts: %d %s counted, %d found", n, k, want)
			}
			return
		}
		if len(k) == 9 && (k[0] == countMembers || k[0] == countGroupsOf) {
			counted[k[0]][binary.BigEndian.Uint64(k[1:])] = n
			return
		}
		bad("counts: unknown key %q", k)
	})
	for k, want := range totals {
		if !seen[k] && want != 0 {
			bad("counts: no count of %s (%d found)", k, want)
		}
	}
	compare := func(what string, prefix byte, found map[uint64]uint64) {
		for id, n := range counted[prefix] {
			if found[id] != n {
				bad("%s %d: %d counted, %d found", what, id, n, found[id])
			}
		}
		for id, n := range found {
			if _, ok := counted[prefix][id]; !ok {
				bad("%s %d: none counted, %d found", what, id, n)
			}
		}
	}
	compare("members of group", countMembers, c.members)
	compare("groups of user", countGroupsOf, c.groupsOf)
}

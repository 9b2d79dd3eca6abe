package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxProblems bounds the problems Check reports.
const maxProblems = 50

// Check verifies the store's consistency: every record decodes; every
// index entry points at a record that has that key, and every record has
// its index entries; members and member_of mirror each other and name
// existing users and groups; assignments name existing roles; each run's
// counts match its journaled entries. It returns nil, or an error wrapping
// ErrCorrupt that lists the problems found (at most 50).
func (s *Store) Check() error {
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < maxProblems {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			bad("bbolt: %v", err)
		}
		t, err := newTxKV(tx)
		if err != nil {
			return err
		}
		roles := map[string]bool{}
		_ = t.bs[bRoles].ForEach(func(k, v []byte) error {
			r, err := decodeRole(v)
			switch {
			case err != nil:
				bad("role %q: %v", k, err)
			case Fold(r.Name) != string(k):
				bad("role %q is stored under %q", r.Name, k)
			default:
				roles[r.Name] = true
			}
			return nil
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

		users := map[uint64]*userRec{}
		_ = t.bs[bUsers].ForEach(func(k, v []byte) error {
			id, ok := idOf(k)
			if !ok {
				bad("users: key %x is not an id", k)
				return nil
			}
			u, err := decodeUser(v)
			if err != nil {
				bad("user %d: %v", id, err)
				return nil
			}
			users[id] = u
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
			return nil
		})
		groups := map[uint64]*groupRec{}
		_ = t.bs[bGroups].ForEach(func(k, v []byte) error {
			id, ok := idOf(k)
			if !ok {
				bad("groups: key %x is not an id", k)
				return nil
			}
			g, err := decodeGroup(v)
			if err != nil {
				bad("group %d: %v", id, err)
				return nil
			}
			groups[id] = g
			if got := lookup(t, bGroupName, []byte(Fold(g.Name))); got != id {
				bad("group %d (%s): name index points at %d", id, g.Name, got)
			}
			if g.Kind == External {
				if got := groupIDByExt(t, g.Source, g.ExternalID); got != id {
					bad("group %d (%s): external ID index points at %d", id, g.Name, got)
				}
			}
			checkRoles("group "+g.Name, g.Roles)
			return nil
		})

		// Indexes → records.
		index := func(b bucketID, keyOf func(id uint64) (string, bool)) {
			_ = t.bs[b].ForEach(func(k, v []byte) error {
				id, ok := idOf(v)
				if !ok {
					bad("%s %q: value is not an id", bucketNames[b], k)
					return nil
				}
				want, ok := keyOf(id)
				if !ok {
					bad("%s %q points at missing record %d", bucketNames[b], k, id)
				} else if want != string(k) {
					bad("%s %q points at %d, whose key is %q", bucketNames[b], k, id, want)
				}
				return nil
			})
		}
		index(bUserName, func(id uint64) (string, bool) {
			u, ok := users[id]
			if !ok {
				return "", false
			}
			return Fold(u.Username), true
		})
		index(bUserExt, func(id uint64) (string, bool) {
			u, ok := users[id]
			if !ok || u.Kind != External {
				return "", false
			}
			return string(extKey(u.Source, u.ExternalID)), true
		})
		index(bGroupName, func(id uint64) (string, bool) {
			g, ok := groups[id]
			if !ok {
				return "", false
			}
			return Fold(g.Name), true
		})
		index(bGroupExt, func(id uint64) (string, bool) {
			g, ok := groups[id]
			if !ok || g.Kind != External {
				return "", false
			}
			return string(extKey(g.Source, g.ExternalID)), true
		})
		_ = t.bs[bUserEmail].ForEach(func(k, _ []byte) error {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(k) != i+9 {
				bad("idx_user_email %q: malformed key", k)
				return nil
			}
			id := binary.BigEndian.Uint64(k[i+1:])
			if u, ok := users[id]; !ok {
				bad("idx_user_email %q points at missing user %d", k[:i], id)
			} else if foldEmail(u.Email) != string(k[:i]) {
				bad("idx_user_email %q points at user %d, whose email is %q", k[:i], id, u.Email)
			}
			return nil
		})

		// Memberships, both ways.
		pairs := func(b, mirror bucketID, left map[uint64]bool, right map[uint64]bool) {
			_ = t.bs[b].ForEach(func(k, _ []byte) error {
				if len(k) != 16 {
					bad("%s: malformed key %x", bucketNames[b], k)
					return nil
				}
				a, c := binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])
				if !left[a] || !right[c] {
					bad("%s %d+%d names a missing user or group", bucketNames[b], a, c)
				}
				if t.get(mirror, pair(c, a)) == nil {
					bad("%s %d+%d has no %s entry", bucketNames[b], a, c, bucketNames[mirror])
				}
				return nil
			})
		}
		uids, gids := map[uint64]bool{}, map[uint64]bool{}
		for id := range users {
			uids[id] = true
		}
		for id := range groups {
			gids[id] = true
		}
		pairs(bMembers, bMemberOf, gids, uids)
		pairs(bMemberOf, bMembers, uids, gids)

		// The journal: counts agree with entries.
		_ = t.bs[bRuns].ForEach(func(k, v []byte) error {
			r, err := decodeRun(v)
			if err != nil {
				bad("run %x: %v", k, err)
				return nil
			}
			eb := t.bs[bRunEntries].Bucket(k)
			if eb == nil {
				bad("run %x has no entries bucket", k)
				return nil
			}
			var c Counts
			n := 0
			_ = eb.ForEach(func(ek, ev []byte) error {
				e, err := decodeEntry(ev)
				if err != nil {
					bad("run %x entry %x: %v", k, ek, err)
					return nil
				}
				c.count(e.Action)
				n++
				return nil
			})
			if c != r.Counts || n != r.Entries {
				bad("run %d: header counts %+v (%d entries), journal has %+v (%d entries)", binary.BigEndian.Uint64(k), r.Counts, r.Entries, c, n)
			}
			return nil
		})
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		errs := make([]error, 0, len(problems)+1)
		errs = append(errs, fmt.Errorf("store %s is inconsistent: %w", s.path, ErrCorrupt))
		for _, p := range problems {
			errs = append(errs, errors.New(p))
		}
		return errors.Join(errs...)
	}
	return nil
}

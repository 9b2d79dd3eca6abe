package store

import (
	"encoding/binary"
	"fmt"
)

// This file keeps records and their indexes in step. Every write of a user
// or group goes through putUser/putGroup, which update exactly the index
// keys that changed, and every membership through addMember/removeMember,
// which keep the counts that reads check; (*Store).Verify checks the
// result.

// getUser reads user id. Ids come from indexes and memberships, so a
// missing record is a damaged store, not ErrNotFound.
func getUser(s kv, id uint64) (*userRec, error) {
	v := s.get(bUsers, u64(id))
	if v == nil {
		return nil, fmt.Errorf("%w: user %d is missing, though an index or a membership names it", ErrCorrupt, id)
	}
	u, err := decodeUser(v)
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// getGroup reads group id; a missing record is a damaged store, as for
// getUser.
func getGroup(s kv, id uint64) (*groupRec, error) {
	v := s.get(bGroups, u64(id))
	if v == nil {
		return nil, fmt.Errorf("%w: group %d is missing, though an index or a membership names it", ErrCorrupt, id)
	}
	g, err := decodeGroup(v)
	if err != nil {
		return nil, fmt.Errorf("group %d: %w", id, err)
	}
	return g, nil
}

// lookup returns the id an index maps key to, or 0.
func lookup(s kv, b bucketID, key []byte) uint64 {
	id, _ := idOf(s.get(b, key))
	return id
}

func userIDByName(s kv, folded string) uint64 { return lookup(s, bUserName, []byte(folded)) }

func userIDByExt(s kv, source, ext string) uint64 {
	return lookup(s, bUserExt, extKey(source, ext))
}

func groupIDByName(s kv, folded string) uint64 { return lookup(s, bGroupName, []byte(folded)) }

func groupIDByExt(s kv, source, ext string) uint64 {
	return lookup(s, bGroupExt, extKey(source, ext))
}

// userIDsByEmail returns the users whose email folds to folded, at most
// limit of them (0: all).
func userIDsByEmail(s kv, folded string, limit int) ([]uint64, error) {
	if folded == "" {
		return nil, nil
	}
	var ids []uint64
	err := s.scanIDs(bUserEmail, emailPrefix(folded), func(id uint64) error {
		ids = append(ids, id)
		if limit > 0 && len(ids) >= limit {
			return errStop
		}
		return nil
	})
	if err == errStop {
		err = nil
	}
	return ids, err
}

// errStop ends a scan early.
var errStop = fmt.Errorf("stop")

// putUser writes u under id and moves the index keys that differ from old
// (nil for a new user).
func putUser(s kv, id uint64, old, u *userRec) error {
	if err := s.put(bUsers, u64(id), encode(u)); err != nil {
		return err
	}
	var oldName, oldExt, oldEmail string
	if old != nil {
		oldName, oldEmail = Fold(old.Username), foldEmail(old.Email)
		if old.Kind == External {
			oldExt = string(extKey(old.Source, old.ExternalID))
		}
	}
	name, email := Fold(u.Username), foldEmail(u.Email)
	ext := ""
	if u.Kind == External {
		ext = string(extKey(u.Source, u.ExternalID))
	}
	return moveKeys(s, id,
		move{bUserName, oldName, name, false},
		move{bUserExt, oldExt, ext, false},
		move{bUserEmail, oldEmail, email, true})
}

// putGroup writes g under id and moves its index keys, like putUser.
func putGroup(s kv, id uint64, old, g *groupRec) error {
	if err := s.put(bGroups, u64(id), encode(g)); err != nil {
		return err
	}
	var oldName, oldExt string
	if old != nil {
		oldName = Fold(old.Name)
		if old.Kind == External {
			oldExt = string(extKey(old.Source, old.ExternalID))
		}
	}
	ext := ""
	if g.Kind == External {
		ext = string(extKey(g.Source, g.ExternalID))
	}
	return moveKeys(s, id,
		move{bGroupName, oldName, Fold(g.Name), false},
		move{bGroupExt, oldExt, ext, false})
}

// move is one index key of a record that may change: from old to new
// ("" for none). multi indexes (email) hold key+id → empty; the others
// key → id.
type move struct {
	b        bucketID
	old, new string
	multi    bool
}

func moveKeys(s kv, id uint64, moves ...move) error {
	for _, m := range moves {
		if m.old == m.new {
			continue
		}
		if m.old != "" {
			k := []byte(m.old)
			if m.multi {
				k = emailKey(m.old, id)
			}
			if err := s.del(m.b, k); err != nil {
				return err
			}
		}
		if m.new != "" {
			var err error
			if m.multi {
				err = s.put(m.b, emailKey(m.new, id), []byte{})
			} else {
				err = s.put(m.b, []byte(m.new), u64(id))
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// removeUser deletes user id, its index keys and its memberships.
func removeUser(s kv, id uint64, u *userRec) error {
	gids, err := memberOf(s, id)
	if err != nil {
		return err
	}
	for _, gid := range gids {
		if err := removeMember(s, gid, id); err != nil {
			return err
		}
	}
	var ext string
	if u.Kind == External {
		ext = string(extKey(u.Source, u.ExternalID))
	}
	if err := moveKeys(s, id,
		move{bUserName, Fold(u.Username), "", false},
		move{bUserExt, ext, "", false},
		move{bUserEmail, foldEmail(u.Email), "", true}); err != nil {
		return err
	}
	return s.del(bUsers, u64(id))
}

func isMember(s kv, gid, uid uint64) bool { return s.get(bMembers, pair(gid, uid)) != nil }

// addMember makes uid a member of gid; it does nothing when it is one.
func addMember(s kv, gid, uid uint64) error {
	if isMember(s, gid, uid) {
		return nil
	}
	if err := s.put(bMembers, pair(gid, uid), []byte{}); err != nil {
		return err
	}
	if err := s.put(bMemberOf, pair(uid, gid), []byte{}); err != nil {
		return err
	}
	if err := addCount(s, countKey(countMembers, gid), 1); err != nil {
		return err
	}
	return addCount(s, countKey(countGroupsOf, uid), 1)
}

// removeMember ends uid's membership of gid; it does nothing when there
// is none.
func removeMember(s kv, gid, uid uint64) error {
	if !isMember(s, gid, uid) {
		return nil
	}
	if err := s.del(bMembers, pair(gid, uid)); err != nil {
		return err
	}
	if err := s.del(bMemberOf, pair(uid, gid)); err != nil {
		return err
	}
	if err := addCount(s, countKey(countMembers, gid), -1); err != nil {
		return err
	}
	return addCount(s, countKey(countGroupsOf, uid), -1)
}

// members lists the ids of a group's members. A list that disagrees with
// the group's count (a lost or stray entry) is ErrCorrupt.
func members(s kv, gid uint64) ([]uint64, error) {
	var ids []uint64
	if err := s.scanIDs(bMembers, u64(gid), func(id uint64) error { ids = append(ids, id); return nil }); err != nil {
		return nil, err
	}
	if err := checkCount(s, countKey(countMembers, gid), len(ids), "group %d's members", gid); err != nil {
		return nil, err
	}
	return ids, nil
}

// memberOf lists the ids of a user's groups, checked against the user's
// count like members.
func memberOf(s kv, uid uint64) ([]uint64, error) {
	var ids []uint64
	if err := s.scanIDs(bMemberOf, u64(uid), func(id uint64) error { ids = append(ids, id); return nil }); err != nil {
		return nil, err
	}
	if err := checkCount(s, countKey(countGroupsOf, uid), len(ids), "user %d's groups", uid); err != nil {
		return nil, err
	}
	return ids, nil
}

// totalRoles is the key of the number of roles in the counts bucket. The
// number of users and groups needs no count: reads compare the name index
// with the records.
var totalRoles = []byte("roles")

// The prefixes of per-group and per-user counts.
const (
	countMembers  = 'm'
	countGroupsOf = 'g'
)

// countKey is the key of the count of a group's members (countMembers) or
// of a user's groups (countGroupsOf).
func countKey(prefix byte, id uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], id)
	return k
}

// getCount reads a count; an absent one is zero. ok is false when the
// store keeps no counts (schema 1) or the value is not a count.
func getCount(s kv, k []byte) (n uint64, ok bool) {
	if !s.counting() {
		return 0, false
	}
	v := s.get(bCounts, k)
	if v == nil {
		return 0, true
	}
	return idOf(v)
}

// addCount adds delta to a count, deleting it when it reaches zero (so a
// store keeps no count for users in no group). A count that would go
// below zero is ErrCorrupt.
func addCount(s kv, k []byte, delta int) error {
	if !s.counting() {
		return nil
	}
	n, ok := getCount(s, k)
	if !ok {
		return fmt.Errorf("%w: count %q is not a number", ErrCorrupt, k)
	}
	if delta < 0 && n < uint64(-delta) {
		return fmt.Errorf("%w: count %q would go below zero", ErrCorrupt, k)
	}
	n = uint64(int64(n) + int64(delta))
	if n == 0 {
		return s.del(bCounts, k)
	}
	return s.put(bCounts, k, u64(n))
}

// checkKeys compares the number of entries a read of an index found with
// the number of records in bucket b, as checkCount does.
func checkKeys(t *txKV, b bucketID, found int, what string) error {
	n := 0
	c := t.bs[b].Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	if n != found {
		return fmt.Errorf("%w: %s lists %d of the %d records in %s (entries were lost or added by damage)", ErrCorrupt, what, found, n, bucketNames[b])
	}
	return nil
}

// checkCount compares the number of entries a read found with the count
// the store keeps, and returns ErrCorrupt when they differ: a read that
// lost entries to a damaged page says so instead of returning part of the
// list. what and args name the list for a person.
func checkCount(s kv, k []byte, found int, what string, args ...any) error {
	if !s.counting() {
		return nil
	}
	want, ok := getCount(s, k)
	if !ok || want != uint64(found) {
		return fmt.Errorf("%w: %s: %d found, %d counted (entries were lost or added by damage)", ErrCorrupt, fmt.Sprintf(what, args...), found, want)
	}
	return nil
}

// getRole returns the role whose name folds to folded.
func getRole(s kv, folded string) (Role, bool, error) {
	v := s.get(bRoles, []byte(folded))
	if v == nil {
		return Role{}, false, nil
	}
	r, err := decodeRole(v)
	return r, err == nil, err
}

// describeUser names a user for a person reading a reason: "an internal
// user" or "a user from dc01".
func describeUser(u *userRec) string {
	if u.Kind == Internal {
		return "an internal user"
	}
	return "a user from " + u.Source
}

func describeGroup(g *groupRec) string {
	if g.Kind == Internal {
		return "an internal group"
	}
	return "a group from " + g.Source
}

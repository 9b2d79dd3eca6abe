package store

import (
	"fmt"
)

// This file keeps records and their indexes in step. Every write of a user
// or group goes through putUser/putGroup, which update exactly the index
// keys that changed; (*Store).Check verifies the result.

func getUser(s kv, id uint64) (*userRec, error) {
	v := s.get(bUsers, u64(id))
	if v == nil {
		return nil, fmt.Errorf("%w: user %d", ErrNotFound, id)
	}
	u, err := decodeUser(v)
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

func getGroup(s kv, id uint64) (*groupRec, error) {
	v := s.get(bGroups, u64(id))
	if v == nil {
		return nil, fmt.Errorf("%w: group %d", ErrNotFound, id)
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

func addMember(s kv, gid, uid uint64) error {
	if err := s.put(bMembers, pair(gid, uid), []byte{}); err != nil {
		return err
	}
	return s.put(bMemberOf, pair(uid, gid), []byte{})
}

func removeMember(s kv, gid, uid uint64) error {
	if err := s.del(bMembers, pair(gid, uid)); err != nil {
		return err
	}
	return s.del(bMemberOf, pair(uid, gid))
}

// members lists the ids of a group's members.
func members(s kv, gid uint64) ([]uint64, error) {
	var ids []uint64
	err := s.scanIDs(bMembers, u64(gid), func(id uint64) error { ids = append(ids, id); return nil })
	return ids, err
}

// memberOf lists the ids of a user's groups.
func memberOf(s kv, uid uint64) ([]uint64, error) {
	var ids []uint64
	err := s.scanIDs(bMemberOf, u64(uid), func(id uint64) error { ids = append(ids, id); return nil })
	return ids, err
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

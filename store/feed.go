package store

import (
	"fmt"

	"github.com/usersync/usersync/directory"
)

// GroupsHolding returns the external IDs of the groups imported from source
// that hold any of the users of source with the given external IDs: the
// groups a change to those users touches.
func (s *Store) GroupsHolding(source string, userExtIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.view(func(t *txKV) error {
		seen := map[uint64]bool{} // groups read already: each is decoded once
		for _, ext := range userExtIDs {
			uid := userIDByExt(t, source, ext)
			if uid == 0 {
				continue
			}
			gids, err := memberOf(t, uid)
			if err != nil {
				return err
			}
			for _, gid := range gids {
				if seen[gid] {
					continue
				}
				seen[gid] = true
				g, err := getGroup(t, gid)
				if err != nil {
					return err
				}
				if g.Kind == External && g.Source == source {
					out[g.ExternalID] = true
				}
			}
		}
		return nil
	})
	return out, err
}

// MembersAmong returns which of the users of source with the given
// external IDs are members of the group imported from source with the
// external ID groupExt.
func (s *Store) MembersAmong(source, groupExt string, userExtIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.view(func(t *txKV) error {
		gid := groupIDByExt(t, source, groupExt)
		if gid == 0 {
			return fmt.Errorf("group %s from %s: %w", groupExt, source, ErrNotFound)
		}
		for _, ext := range userExtIDs {
			if uid := userIDByExt(t, source, ext); uid != 0 && isMember(t, gid, uid) {
				out[ext] = true
			}
		}
		return nil
	})
	return out, err
}

// MemberEntries returns the members of the group imported from source with
// the given external ID, as the directory described them when they were
// last read (the store's copy of their directory fields), for a sync that
// reads only what changed: the changes are laid over these. Members that
// are not users of source are left out (a complete read removes them).
// Disabled is never set: the store cannot tell a user disabled in the
// directory from one created disabled, pending review, and an entry that
// says nothing changes nothing.
func (s *Store) MemberEntries(source, externalID string) ([]directory.Entry, error) {
	var out []directory.Entry
	err := s.view(func(t *txKV) error {
		gid := groupIDByExt(t, source, externalID)
		if gid == 0 || externalID == "" {
			return fmt.Errorf("group %s from %s: %w", externalID, source, ErrNotFound)
		}
		uids, err := members(t, gid)
		if err != nil {
			return err
		}
		out = make([]directory.Entry, 0, len(uids))
		for _, uid := range uids {
			u, err := getUser(t, uid)
			if err != nil {
				return err
			}
			if u.Kind != External || u.Source != source {
				continue
			}
			out = append(out, directory.Entry{Type: directory.TypeUser, ExternalID: u.ExternalID, Name: u.Username,
				DisplayName: u.DisplayName, Email: u.Email, DN: u.DN, Guest: u.Guest})
		}
		return nil
	})
	return out, err
}

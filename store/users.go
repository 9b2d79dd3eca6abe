package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// UserFilter narrows ListUsers.
type UserFilter struct {
	Kind   Kind   // "" for all
	Source string // "" for all
	Search string // case-insensitive substring of username, display name or email
}

func (f UserFilter) match(u *userRec, search string) bool {
	if f.Kind != "" && u.Kind != f.Kind {
		return false
	}
	if f.Source != "" && u.Source != f.Source {
		return false
	}
	if search == "" {
		return true
	}
	return strings.Contains(Fold(u.Username), search) ||
		strings.Contains(Fold(u.DisplayName), search) ||
		strings.Contains(Fold(u.Email), search)
}

// groupNames resolves group ids to names within one transaction.
type groupNames struct {
	s     kv
	names map[uint64]string
}

func (g *groupNames) of(uid uint64) ([]string, error) {
	gids, err := memberOf(g.s, uid)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(gids))
	for _, gid := range gids {
		name, ok := g.names[gid]
		if !ok {
			grp, err := getGroup(g.s, gid)
			if err != nil {
				return nil, err
			}
			name = grp.Name
			g.names[gid] = name
		}
		out = append(out, name)
	}
	slices.SortFunc(out, compareNames)
	return out, nil
}

// compareNames orders names as people expect: ignoring case, then by bytes.
func compareNames(a, b string) int {
	if c := strings.Compare(Fold(a), Fold(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// ListUsers returns users sorted by username, with Groups filled.
func (s *Store) ListUsers(f UserFilter) ([]User, error) {
	users := []User{}
	search := Fold(strings.TrimSpace(f.Search))
	err := s.view(func(t *txKV) error {
		gn := &groupNames{s: t, names: map[uint64]string{}}
		c := t.bs[bUserName].Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n++
			id, ok := idOf(t.open(bUserName, k, v))
			if !ok {
				return fmt.Errorf("%w: username index entry %q", ErrCorrupt, k)
			}
			u, err := getUser(t, id)
			if err != nil {
				return err
			}
			if !f.match(u, search) {
				continue
			}
			out := u.user()
			if out.Groups, err = gn.of(id); err != nil {
				return err
			}
			users = append(users, out)
		}
		return checkKeys(t, bUsers, n, "the username index")
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// findUser returns the id and record of the user named username (folded).
func findUser(s kv, username string) (uint64, *userRec, error) {
	id := userIDByName(s, Fold(username))
	if id == 0 {
		return 0, nil, fmt.Errorf("no user named %q: %w", username, ErrNotFound)
	}
	u, err := getUser(s, id)
	return id, u, err
}

// findGroup returns the id and record of the group named name (folded).
func findGroup(s kv, name string) (uint64, *groupRec, error) {
	id := groupIDByName(s, Fold(name))
	if id == 0 {
		return 0, nil, fmt.Errorf("no group named %q: %w", name, ErrNotFound)
	}
	g, err := getGroup(s, id)
	return id, g, err
}

// GetUser returns one user by username (folded), with Groups filled.
func (s *Store) GetUser(username string) (User, error) {
	var out User
	err := s.view(func(t *txKV) error {
		id, u, err := findUser(t, username)
		if err != nil {
			return err
		}
		out = u.user()
		out.Groups, err = (&groupNames{s: t, names: map[uint64]string{}}).of(id)
		return err
	})
	return out, err
}

// AddUser creates an internal user. Kind, Source and ExternalID are ignored.
// Roles with an empty scope get GlobalScope; unknown roles are ErrNotFound.
// A username that folds to an existing one is ErrExists.
func (s *Store) AddUser(u User) (User, error) {
	if err := checkUsername(u.Username); err != nil {
		return User{}, err
	}
	for _, f := range [...]struct{ what, v string }{{"display name", u.DisplayName}, {"email address", u.Email}} {
		if err := checkValue(f.what, f.v); err != nil {
			return User{}, err
		}
	}
	var out User
	err := s.update(func(t *txKV) error {
		if id := userIDByName(t, Fold(u.Username)); id != 0 {
			other, err := getUser(t, id)
			if err != nil {
				return err
			}
			return fmt.Errorf("cannot add %q: %s named %q already exists (usernames are compared ignoring case): %w", u.Username, describeUser(other), other.Username, ErrExists)
		}
		roles, err := canonicalRoles(t, u.Roles)
		if err != nil {
			return err
		}
		id, err := t.nextSeq(bUsers)
		if err != nil {
			return err
		}
		now := s.now().UnixNano()
		rec := &userRec{
			Username: u.Username, DisplayName: u.DisplayName, Email: u.Email,
			Kind: Internal, Enabled: u.Enabled, Roles: roles, Created: now, Modified: now,
		}
		if err := putUser(t, id, nil, rec); err != nil {
			return err
		}
		out = rec.user()
		return nil
	})
	return out, err
}

// canonicalRoles checks that every role exists, spells it as the store
// does, fills empty scopes with GlobalScope and drops duplicates.
func canonicalRoles(s kv, in []Assignment) ([]Assignment, error) {
	var out []Assignment
	for _, a := range in {
		ca, err := canonicalAssignment(s, a)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, ca) {
			out = append(out, ca)
		}
	}
	return out, nil
}

func canonicalAssignment(s kv, a Assignment) (Assignment, error) {
	role, ok, err := getRole(s, Fold(a.Role))
	if err != nil {
		return Assignment{}, err
	}
	if !ok {
		return Assignment{}, fmt.Errorf("no role named %q (see 'usersync roles list'): %w", a.Role, ErrNotFound)
	}
	if a.Scope == "" {
		a.Scope = GlobalScope
	}
	if err := checkValue("scope", a.Scope); err != nil {
		return Assignment{}, err
	}
	return Assignment{Role: role.Name, Scope: a.Scope}, nil
}

// SetUserEnabled enables or disables a user.
func (s *Store) SetUserEnabled(username string, enabled bool) error {
	return s.update(func(t *txKV) error {
		id, u, err := findUser(t, username)
		if err != nil {
			return err
		}
		if u.Enabled == enabled {
			return nil
		}
		nu := *u
		nu.Enabled, nu.Modified = enabled, s.now().UnixNano()
		return putUser(t, id, u, &nu)
	})
}

// DeleteUser removes a user and its memberships.
func (s *Store) DeleteUser(username string) error {
	return s.update(func(t *txKV) error {
		id, u, err := findUser(t, username)
		if err != nil {
			return err
		}
		return removeUser(t, id, u)
	})
}

// memberNames lists the usernames of a group's members, sorted.
func memberNames(s kv, gid uint64) ([]string, error) {
	ids, err := members(s, gid)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		u, err := getUser(s, id)
		if err != nil {
			return nil, err
		}
		out = append(out, u.Username)
	}
	slices.SortFunc(out, compareNames)
	return out, nil
}

// ListGroups returns groups sorted by name, with Members filled.
func (s *Store) ListGroups() ([]Group, error) { return s.listGroups(true) }

// ListGroupsBrief returns every group sorted by name, without Members (a
// sync of every group needs the groups, not their members' names).
func (s *Store) ListGroupsBrief() ([]Group, error) { return s.listGroups(false) }

func (s *Store) listGroups(withMembers bool) ([]Group, error) {
	groups := []Group{}
	err := s.view(func(t *txKV) error {
		c := t.bs[bGroupName].Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n++
			id, ok := idOf(t.open(bGroupName, k, v))
			if !ok {
				return fmt.Errorf("%w: group name index entry %q", ErrCorrupt, bytes.Clone(k))
			}
			g, err := getGroup(t, id)
			if err != nil {
				return err
			}
			out := g.group()
			if withMembers {
				if out.Members, err = memberNames(t, id); err != nil {
					return err
				}
			}
			groups = append(groups, out)
		}
		return checkKeys(t, bGroups, n, "the group name index")
	})
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return groups, nil
}

// GetGroup returns one group by name (folded), with Members filled.
func (s *Store) GetGroup(name string) (Group, error) {
	var out Group
	err := s.view(func(t *txKV) error {
		id, g, err := findGroup(t, name)
		if err != nil {
			return err
		}
		out = g.group()
		out.Members, err = memberNames(t, id)
		return err
	})
	return out, err
}

// AddGroup creates an internal group, empty. Roles are as for AddUser; a
// name that folds to an existing group's is ErrExists.
func (s *Store) AddGroup(g Group) (Group, error) {
	if err := checkName("group name", g.Name); err != nil {
		return Group{}, err
	}
	var out Group
	err := s.update(func(t *txKV) error {
		if id := groupIDByName(t, Fold(g.Name)); id != 0 {
			other, err := getGroup(t, id)
			if err != nil {
				return err
			}
			return fmt.Errorf("cannot add group %q: %s named %q already exists: %w", g.Name, describeGroup(other), other.Name, ErrExists)
		}
		roles, err := canonicalRoles(t, g.Roles)
		if err != nil {
			return err
		}
		id, err := t.nextSeq(bGroups)
		if err != nil {
			return err
		}
		rec := &groupRec{Name: g.Name, Kind: Internal, Roles: roles, Created: s.now().UnixNano()}
		if err := putGroup(t, id, nil, rec); err != nil {
			return err
		}
		out = rec.group()
		return nil
	})
	return out, err
}

// AddMember makes user a member of an internal group. External groups'
// memberships follow their directory: a sync would undo the change, so
// it is refused with ErrInvalid.
func (s *Store) AddMember(group, username string) error {
	return s.update(func(t *txKV) error {
		gid, g, err := findGroup(t, group)
		if err != nil {
			return err
		}
		if g.Kind == External {
			return fmt.Errorf("%w: group %s comes from %s: change its members there and synchronize", ErrInvalid, g.Name, g.Source)
		}
		uid, _, err := findUser(t, username)
		if err != nil {
			return err
		}
		if isMember(t, gid, uid) {
			return nil
		}
		return addMember(t, gid, uid)
	})
}

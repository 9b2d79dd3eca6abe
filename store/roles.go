package store

import (
	"fmt"
	"slices"
)

// ListRoles returns the roles sorted by name.
func (s *Store) ListRoles() ([]Role, error) {
	roles := []Role{}
	err := s.view(func(t *txKV) error {
		err := t.bs[bRoles].ForEach(func(k, v []byte) error {
			r, err := decodeRole(t.open(bRoles, k, v))
			if err != nil {
				return fmt.Errorf("role %q: %w", k, err)
			}
			roles = append(roles, r)
			return nil
		})
		if err != nil {
			return err
		}
		return checkCount(t, totalRoles, len(roles), "the roles")
	})
	return roles, err
}

// AddRole creates a role. A name that folds to an existing role's is
// ErrExists.
func (s *Store) AddRole(r Role) error {
	if err := checkName("role name", r.Name); err != nil {
		return err
	}
	if err := checkValue("description", r.Description); err != nil {
		return err
	}
	return s.update(func(t *txKV) error {
		k := Fold(r.Name)
		if old, ok, err := getRole(t, k); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("a role named %q already exists: %w", old.Name, ErrExists)
		}
		if err := t.put(bRoles, []byte(k), encode(r)); err != nil {
			return err
		}
		return addCount(t, totalRoles, 1)
	})
}

// principal is a user or a group that holds assignments.
type principal struct {
	uid, gid uint64
	user     *userRec
	group    *groupRec
}

func (p *principal) roles() []Assignment {
	if p.user != nil {
		return p.user.Roles
	}
	return p.group.Roles
}

func (p *principal) save(s kv, roles []Assignment, now int64) error {
	if p.user != nil {
		nu := *p.user
		nu.Roles, nu.Modified = roles, now
		return putUser(s, p.uid, p.user, &nu)
	}
	ng := *p.group
	ng.Roles = roles
	return putGroup(s, p.gid, p.group, &ng)
}

// findPrincipal finds a user by name, else a group.
func findPrincipal(s kv, name string) (*principal, error) {
	if id := userIDByName(s, Fold(name)); id != 0 {
		u, err := getUser(s, id)
		return &principal{uid: id, user: u}, err
	}
	if id := groupIDByName(s, Fold(name)); id != 0 {
		g, err := getGroup(s, id)
		return &principal{gid: id, group: g}, err
	}
	return nil, fmt.Errorf("no user or group named %q: %w", name, ErrNotFound)
}

// Assign grants a role on a scope to a user or, if no user has that name, a
// group. It is a no-op when already granted.
func (s *Store) Assign(name string, a Assignment) error {
	return s.update(func(t *txKV) error {
		ca, err := canonicalAssignment(t, a)
		if err != nil {
			return err
		}
		p, err := findPrincipal(t, name)
		if err != nil {
			return err
		}
		roles := p.roles()
		if slices.Contains(roles, ca) {
			return nil
		}
		return p.save(t, append(slices.Clip(roles), ca), s.now().UnixNano())
	})
}

// Unassign withdraws an assignment; ErrNotFound when it was not held.
func (s *Store) Unassign(name string, a Assignment) error {
	return s.update(func(t *txKV) error {
		ca, err := canonicalAssignment(t, a)
		if err != nil {
			return err
		}
		p, err := findPrincipal(t, name)
		if err != nil {
			return err
		}
		roles := p.roles()
		i := slices.Index(roles, ca)
		if i < 0 {
			return fmt.Errorf("%s does not hold %s on %s: %w", name, ca.Role, ca.Scope, ErrNotFound)
		}
		return p.save(t, slices.Delete(slices.Clone(roles), i, i+1), s.now().UnixNano())
	})
}

// CopyAssignments grants to user `to` every assignment user `from` holds
// directly, and returns those it granted (none when `from` holds none of
// its own, or `to` held them all already).
func (s *Store) CopyAssignments(from, to string) ([]Assignment, error) {
	var copied []Assignment
	err := s.update(func(t *txKV) error {
		copied = nil
		_, src, err := findUser(t, from)
		if err != nil {
			return err
		}
		id, dst, err := findUser(t, to)
		if err != nil {
			return err
		}
		roles := slices.Clone(dst.Roles)
		for _, a := range src.Roles {
			if !slices.Contains(roles, a) {
				roles = append(roles, a)
				copied = append(copied, a)
			}
		}
		if len(copied) == 0 {
			return nil
		}
		p := &principal{uid: id, user: dst}
		return p.save(t, roles, s.now().UnixNano())
	})
	if err != nil {
		return nil, err
	}
	return copied, nil
}

// EffectiveRoles lists a user's assignments, its own and its groups'.
func (s *Store) EffectiveRoles(username string) ([]EffectiveAssignment, error) {
	out := []EffectiveAssignment{}
	err := s.view(func(t *txKV) error {
		id, u, err := findUser(t, username)
		if err != nil {
			return err
		}
		for _, a := range u.Roles {
			out = append(out, EffectiveAssignment{Assignment: a})
		}
		gids, err := memberOf(t, id)
		if err != nil {
			return err
		}
		var groups []*groupRec
		for _, gid := range gids {
			g, err := getGroup(t, gid)
			if err != nil {
				return err
			}
			groups = append(groups, g)
		}
		slices.SortFunc(groups, func(a, b *groupRec) int { return compareNames(a.Name, b.Name) })
		for _, g := range groups {
			for _, a := range g.Roles {
				out = append(out, EffectiveAssignment{Assignment: a, Via: g.Name})
			}
		}
		return nil
	})
	return out, err
}

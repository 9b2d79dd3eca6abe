package graphtest

import (
	"fmt"
	"slices"
	"strings"
)

// Changes to the served tenant, as an administrator makes them in Entra:
// each is one Update (one change sequence number), seen by later requests
// and reported by delta rounds. They return an error, and change nothing,
// for an id the tenant does not hold.

func unknown(kind, id string) error { return fmt.Errorf("graphtest: no %s %s in the tenant", kind, id) }

// SetUserMail changes a user's mail (empty: the user has no mailbox).
func (s *Server) SetUserMail(userID, mail string) error {
	return s.change(func(t *Tenant) error {
		u := t.User(userID)
		if u == nil {
			return unknown("user", userID)
		}
		u.Mail = mail
		return nil
	})
}

// SetAccountEnabled enables or disables a user's account.
func (s *Server) SetAccountEnabled(userID string, enabled bool) error {
	return s.change(func(t *Tenant) error {
		u := t.User(userID)
		if u == nil {
			return unknown("user", userID)
		}
		u.AccountEnabled = enabled
		return nil
	})
}

// AddUser creates a user (in no group).
func (s *Server) AddUser(u User) error {
	return s.change(func(t *Tenant) error {
		if t.User(u.ID) != nil {
			return fmt.Errorf("graphtest: user %s exists already", u.ID)
		}
		t.Users = append(t.Users, u)
		return nil
	})
}

// DeleteUser deletes a user, who leaves every group.
func (s *Server) DeleteUser(userID string) error {
	return s.change(func(t *Tenant) error {
		i := slices.IndexFunc(t.Users, func(u User) bool { return strings.EqualFold(u.ID, userID) })
		if i < 0 {
			return unknown("user", userID)
		}
		t.Users = slices.Delete(t.Users, i, i+1)
		for gi := range t.Groups {
			g := &t.Groups[gi]
			g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return strings.EqualFold(id, userID) })
		}
		return nil
	})
}

// DeleteGroup deletes a group, which leaves every group it was nested in.
func (s *Server) DeleteGroup(groupID string) error {
	return s.change(func(t *Tenant) error {
		i := slices.IndexFunc(t.Groups, func(g Group) bool { return strings.EqualFold(g.ID, groupID) })
		if i < 0 {
			return unknown("group", groupID)
		}
		t.Groups = slices.Delete(t.Groups, i, i+1)
		for gi := range t.Groups {
			g := &t.Groups[gi]
			g.Groups = slices.DeleteFunc(g.Groups, func(id string) bool { return strings.EqualFold(id, groupID) })
		}
		return nil
	})
}

// AddMember makes a user, or a group (nested), a direct member of a group.
func (s *Server) AddMember(groupID, memberID string) error {
	return s.change(func(t *Tenant) error {
		g := t.Group(groupID)
		if g == nil {
			return unknown("group", groupID)
		}
		has := func(id string) bool { return strings.EqualFold(id, memberID) }
		switch {
		case t.User(memberID) != nil:
			if !slices.ContainsFunc(g.Members, has) {
				g.Members = append(g.Members, memberID)
			}
		case t.Group(memberID) != nil:
			if !slices.ContainsFunc(g.Groups, has) {
				g.Groups = append(g.Groups, memberID)
			}
		default:
			return unknown("user or group", memberID)
		}
		return nil
	})
}

// RemoveMember takes a direct member (a user or a nested group) out of a
// group.
func (s *Server) RemoveMember(groupID, memberID string) error {
	return s.change(func(t *Tenant) error {
		g := t.Group(groupID)
		if g == nil {
			return unknown("group", groupID)
		}
		is := func(id string) bool { return strings.EqualFold(id, memberID) }
		n := len(g.Members) + len(g.Groups)
		g.Members = slices.DeleteFunc(g.Members, is)
		g.Groups = slices.DeleteFunc(g.Groups, is)
		if len(g.Members)+len(g.Groups) == n {
			return fmt.Errorf("graphtest: %s is not a direct member of group %s", memberID, groupID)
		}
		return nil
	})
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/usersync/usersync/directory"
	ldapdemo "github.com/usersync/usersync/directory/demo"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// SeedActor is who the seeded import run says ran it: the internal
// administrator ldapdemo.InternalBlocker, at the demo's start.
const SeedActor = ldapdemo.InternalBlocker

// seedRoles are the roles Seed adds to a new store's defaults.
var seedRoles = []store.Role{
	{Name: "Analyst", Description: "Can run, save and share analyses"},
	{Name: "Helpdesk", Description: "Can reset passwords and unlock accounts"},
	{Name: "Auditor", Description: "Can read the journal and the completion reports"},
}

// seedUsers are the internal users Seed makes. aandrei is the one the
// directory's AAndrei collides with.
var seedUsers = []store.User{
	{Username: ldapdemo.InternalBlocker, DisplayName: "Andrei Aandrei", Email: "andrei.aandrei@example.com", Enabled: true,
		Roles: []store.Assignment{{Role: "Administrator", Scope: store.GlobalScope}}},
	{Username: "mlopez", DisplayName: "María López", Email: "maria.lopez@example.com", Enabled: true,
		Roles: []store.Assignment{{Role: "Editor", Scope: store.GlobalScope}, {Role: "Viewer", Scope: "project-x"}}},
	{Username: "tkaur", DisplayName: "Tara Kaur", Email: "tara.kaur@example.com", Enabled: true},
	{Username: "reports", DisplayName: "Reporting service", Email: "", Enabled: true,
		Roles: []store.Assignment{{Role: "Auditor", Scope: store.GlobalScope}}},
	{Username: "jbloggs", DisplayName: "Joe Bloggs", Email: "joe.bloggs@example.com", Enabled: false,
		Roles: []store.Assignment{{Role: "Viewer", Scope: store.GlobalScope}}},
}

// seedGroup is an internal group Seed makes, with its members and roles.
var seedGroup = struct {
	store.Group
	members []string
}{
	Group:   store.Group{Name: "Service Desk", Roles: []store.Assignment{{Role: "Helpdesk", Scope: store.GlobalScope}}},
	members: []string{"tkaur", "mlopez"},
}

// earlierMail is the address the earlier import saw for ldapdemo.UserImported: the
// directory has changed it since, so the demo's synchronize rows have a
// difference to show.
const earlierMail = "andrew.armstrong@" + ldapdemo.MailDomain

// Seed fills a new store for the demo: roles besides the defaults
// (Analyst, Helpdesk, Auditor), internal users (among them aandrei, an
// Administrator), an internal group, and one earlier import from dir —
// the group Analysis with its members, read through dir and the store's
// rules (importer.ReadGroup and the request `usersync import ldap` makes), with the Analyst role and the
// users enabled — so that the journal holds a real run and the external
// IDs are the directory's.
//
// One thing is made up: the earlier run saw Andrew Armstrong (andarm) with
// an older email address, so that a synchronize row has a field-by-field
// difference to show.
//
// dir is the demo directory (its Name is the run's source, e.g. "dc01").
// Seed refuses a store that already holds users.
func Seed(ctx context.Context, st *store.Store, dir directory.Directory) error {
	have, err := st.ListUsers(store.UserFilter{})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if len(have) > 0 {
		return fmt.Errorf("seed: the store %s already has %d users: Seed fills only a new store", st.Path(), len(have))
	}
	for _, r := range seedRoles {
		if err := st.AddRole(r); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("seed: role %s: %w", r.Name, err)
		}
	}
	for _, u := range seedUsers {
		if _, err := st.AddUser(u); err != nil {
			return fmt.Errorf("seed: user %s: %w", u.Username, err)
		}
	}
	if _, err := st.AddGroup(seedGroup.Group); err != nil {
		return fmt.Errorf("seed: group %s: %w", seedGroup.Name, err)
	}
	for _, m := range seedGroup.members {
		if err := st.AddMember(seedGroup.Name, m); err != nil {
			return fmt.Errorf("seed: group %s: add %s: %w", seedGroup.Name, m, err)
		}
	}
	return seedImport(ctx, st, dir)
}

// seedImport imports the group Analysis from dir, as
// `usersync import ldap --select Analysis --roles Analyst --enable --yes`
// would.
func seedImport(ctx context.Context, st *store.Store, dir directory.Directory) error {
	var id string
	err := dir.Search(ctx, ldapdemo.GroupAnalysis, func(e directory.Entry) error {
		if e.Type == directory.TypeGroup && strings.EqualFold(e.Name, ldapdemo.GroupAnalysis) {
			id = e.ExternalID
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed: find group %s on %s: %w", ldapdemo.GroupAnalysis, dir.Name(), err)
	}
	if id == "" {
		return fmt.Errorf("seed: %s has no group %s", dir.Name(), ldapdemo.GroupAnalysis)
	}
	g, err := importer.ReadGroup(ctx, st, dir, id)
	if err != nil {
		return fmt.Errorf("seed: read group %s from %s: %w", ldapdemo.GroupAnalysis, dir.Name(), err)
	}
	if !g.Read.Complete() {
		return fmt.Errorf("seed: reading group %s from %s was incomplete: %s", ldapdemo.GroupAnalysis, dir.Name(), g.Read.Incomplete)
	}
	for i, m := range g.Read.Members {
		if m.Name == ldapdemo.UserImported {
			g.Read.Members[i].Email = earlierMail
		}
	}
	req := importer.LDAP{
		Server: dir.Name(), Query: ldapdemo.GroupAnalysis, Select: importer.Names{ldapdemo.GroupAnalysis},
		Roles: importer.Assignments{{Role: "Analyst", Scope: store.GlobalScope}}, Enable: true,
	}
	p := &importer.Prepared{Input: store.Input{
		Source: dir.Name(), Actor: SeedActor, Command: req.CommandLine(),
		Groups: []store.GroupInput{g}, Options: req.Options(),
	}}
	run, err := p.Apply(ctx, st, nil)
	if err != nil {
		return fmt.Errorf("seed: import group %s: %w", ldapdemo.GroupAnalysis, err)
	}
	if run.Status != store.RunCompleted || run.Counts.Failed > 0 {
		return fmt.Errorf("seed: import group %s: run %d %s with %d failed entries %s", ldapdemo.GroupAnalysis, run.ID, run.Status, run.Counts.Failed, run.Error)
	}
	return nil
}

package main

import (
	"strings"
	"testing"
)

// The import wizard, driven in a real terminal (tmux) against a real slapd,
// the way a helpdesk person walks it; the store is checked afterwards
// through the CLI.

func TestWizard_LDAPImportEndToEnd(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	e.ok("users", "add", "aandrei", "--name", "Andrei (internal)", "--email", "aandrei@corp.example")

	m := startTerminal(t, e, 80, 24, "import")
	m.waitFor("dc01")
	m.keys("Enter")
	m.waitFor("Search by username or group name")

	// A malformed raw filter is reported inline; the wizard stays usable.
	m.typeText("(uid=an")
	m.keys("Enter")
	m.waitFor("invalid LDAP filter")
	for range len("(uid=an") {
		m.keys("BSpace")
	}
	m.typeText("an*")
	m.keys("Enter")
	s := m.waitFor(`Found 4 search results for "an*"`, "Username already exists as an internal user")
	for _, want := range []string{"andarm", "andbal", "Analysis", "Select to import"} {
		if !strings.Contains(s, want) {
			t.Errorf("the results do not show %q:\n%s", want, s)
		}
	}

	// Select all (the blocked AAndrei is skipped), set a role, import.
	m.keys("a")
	m.waitFor("3 selected")
	m.keys("Enter")
	m.waitFor("Enable users after import")
	m.keys("Space", "Down", "Enter")
	m.waitFor("Role assignments: the roles new users and groups get")
	m.keys("Space", "Enter")
	m.waitFor("Continue to the summary")
	m.keys("End", "Enter")
	m.waitFor("What will happen", "usersync import ldap")
	m.keys("Enter")
	m.waitFor("completed", "Created")
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("quit after the import: exit status %d\n%s", code, m.screen())
	}

	users := usersByName(t, e)
	for _, name := range []string{"andarm", "andbal", "bnomail"} {
		if u, ok := users[name]; !ok || u.Kind != "external" || u.Source != "dc01" || !u.Enabled {
			t.Errorf("%s after the wizard: %+v (found %v)", name, u, ok)
		}
	}
	if !hasRole(users["andbal"], "Administrator", "global") {
		t.Errorf("andbal did not get the chosen role: %v", users["andbal"].Roles)
	}
	if u := users["aandrei"]; u.Kind != "internal" || u.DisplayName != "Andrei (internal)" || u.Email != "aandrei@corp.example" {
		t.Errorf("the internal aandrei was touched: %+v", u)
	}

	// A re-import through the wizard keeps the roles andarm was given since.
	e.ok("roles", "assign", "andarm", "Editor@project-x")
	before := usersByName(t, e)["andarm"].Roles
	m = startTerminal(t, e, 80, 24, "import")
	m.waitFor("dc01")
	m.keys("Enter")
	m.waitFor("Search by username or group name")
	m.typeText("andarm")
	m.keys("Enter")
	m.waitFor(`Found 1 search result for "andarm"`, "Select to synchronize")
	m.keys("Space")
	m.waitFor("1 selected")
	m.keys("Enter")
	m.waitFor("Enable users after import")
	m.keys("End", "Enter")
	m.waitFor("What will happen")
	m.keys("Enter")
	m.waitFor("completed")

	// The server goes away: back from the report, the search is run again
	// and says so inline; the wizard still answers.
	d.srv.Stop()
	m.keys("Escape")
	m.waitFor("The search failed", "127.0.0.1")
	for range len("andarm") {
		m.keys("BSpace")
	}
	m.typeText("bob")
	m.keys("Enter")
	m.waitFor(`for "bob"`, "The search failed")
	m.keys("Escape")
	m.waitFor("Pick a directory")
	m.keys("C-c")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("Ctrl+C: exit status %d\n%s", code, m.screen())
	}

	after := usersByName(t, e)["andarm"].Roles
	if len(after) != len(before) || !hasRole(usersByName(t, e)["andarm"], "Editor", "project-x") {
		t.Errorf("the re-import changed andarm's roles: %v, was %v", after, before)
	}
}

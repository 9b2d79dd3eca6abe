package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// The wizard and its scripted twin: an import run from the wizard, and the
// "same import from a script" command its summary shows, run on a copy of
// the same starting store, leave the same store behind — users, groups,
// memberships, enabled flags and role assignments.

// copyStore copies e's store file for a twin environment.
func copyStore(t *testing.T, e *env) *env {
	t.Helper()
	src, err := os.Open(e.store)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	twin := &env{t: t, dir: e.dir, store: e.store + ".twin", config: e.config, extra: e.extra}
	dst, err := os.OpenFile(twin.store, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return twin
}

// splitShell splits a command line quoted as usersync quotes them: plain
// words and '…' with '\” inside.
func splitShell(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\'':
			inQuote = false
		case inQuote:
			cur.WriteByte(c)
		case c == '\'':
			inQuote, have = true, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			have = true
		case c == ' ':
			if have {
				words = append(words, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		words = append(words, cur.String())
	}
	return words
}

// storeDump is everything the two stores must agree on, as the CLI lists it.
func storeDump(t *testing.T, e *env) string {
	t.Helper()
	return e.ok("users", "list", "--json").stdout + e.ok("groups", "list", "--json").stdout
}

// runTwin runs the command of the wizard's run (the summary's "same import
// from a script") on twin and compares the stores.
func runTwin(t *testing.T, e, twin *env, summary string) {
	t.Helper()
	var runs []runJSON
	e.jsonOf(&runs, "runs", "list", "--json")
	if len(runs) == 0 {
		t.Fatal("the wizard journaled no run")
	}
	command := runs[0].Command
	if !strings.Contains(folded(summary), command) {
		t.Errorf("the run's command is not the one the summary showed:\n%s\nsummary:\n%s", command, summary)
	}
	words := splitShell(t, command)
	if len(words) < 2 || words[0] != "usersync" {
		t.Fatalf("command %q", command)
	}
	if r := twin.run(words[1:]...); r.code != 0 {
		t.Fatalf("%s: exit %d\n%s\n%s", command, r.code, r.stdout, r.stderr)
	}
	wizard, script := storeDump(t, e), storeDump(t, twin)
	if wizard != script {
		t.Errorf("the wizard and %s left different stores:\nwizard:\n%s\nscript:\n%s", command, wizard, script)
	}
}

func TestWizard_LDAPImportSameStoreAsItsScript(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	e.ok("users", "add", "aandrei", "--name", "Andrei (internal)", "--email", "aandrei@corp.example")
	e.ok("users", "add", "mentor", "--name", "Mentor", "--roles", "Viewer@crm")
	twin := copyStore(t, e)

	m := startTerminal(t, e, 80, 24, "import")
	m.waitFor("dc01")
	m.keys("Enter")
	m.waitFor("Search by username or group name")
	m.typeText("an*")
	m.keys("Enter")
	m.waitFor(`Found 4 search results for "an*"`)
	m.keys("a")
	m.waitFor("3 selected")
	m.keys("Enter")
	m.waitFor("Enable users after import")
	m.keys("Space", "Down", "Enter") // enable; Set roles
	m.waitFor("Role assignments: the roles new users and groups get", "Viewer")
	m.keys("Space") // Administrator, global
	m.keys("Tab")
	m.typeText("project-x")
	m.keys("Tab", "Down", "Space", "Enter") // Editor@project-x
	m.waitFor("Administrator,Editor@project-x")
	m.keys("Down", "Enter") // Copy roles from
	m.waitFor("Copy roles and assignments from which user?", "mentor")
	m.keys("Down", "Enter") // the users are sorted: aandrei, mentor
	m.waitFor("get the roles of: mentor")
	m.keys("End", "Enter")
	summary := m.waitFor("What will happen", "usersync import ldap")
	m.keys("Enter")
	m.waitFor("completed")
	// The report saved from the TUI is byte for byte what runs show prints.
	saved := e.dir + "/report.json"
	m.keys("s")
	m.waitFor("usersync-run-1.json")
	m.keys("C-u")
	m.typeText(saved)
	m.keys("Enter")
	m.waitFor("Saved the report")
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("quit: exit %d\n%s", code, m.screen())
	}
	if data, err := os.ReadFile(saved); err != nil || string(data) != e.ok("runs", "show", "1", "--json").stdout {
		t.Errorf("the saved report (%v) differs from runs show 1 --json:\n%s\n%s", err, data, e.ok("runs", "show", "1", "--json").stdout)
	}
	const want = "usersync import ldap --server dc01 --query 'an*' --select all --roles Administrator,Editor@project-x --enable --copy-roles-from mentor --yes"
	if !strings.Contains(folded(summary), want) {
		t.Errorf("the summary's command is not %s:\n%s", want, summary)
	}
	u := usersByName(t, e)["andbal"]
	if !u.Enabled || !hasRole(u, "Administrator", "global") || !hasRole(u, "Editor", "project-x") || !hasRole(u, "Viewer", "crm") {
		t.Errorf("andbal after the wizard: %+v", u)
	}
	runTwin(t, e, twin, summary)
}

func TestWizard_EntraImportSameStoreAsItsScript(t *testing.T) {
	e := newEnv(t)
	srv := deviceCodeTenant(t, e, time.Second, "TWIN42")
	tn := srv.Tenant()
	matched := tn.User(tn.GroupByName("Sales").Members[0])
	e.ok("users", "add", "jdoe-internal", "--email", strings.ToUpper(matched.Mail), "--name", "Internal Person")
	twin := copyStore(t, e)

	m := startTerminal(t, e, 80, 24, "import")
	m.waitFor("Pick a directory", "contoso")
	m.keys("Enter")
	m.waitFor("Signed in to contoso.", "Sales  (66 members)")
	m.keys("/")
	m.typeText("sales")
	m.waitFor(`Found 2 groups matching "sales"`)
	m.keys("Enter", "Space")
	m.waitFor("1 selected", "[x] Add new users")
	m.keys("Tab", "Right", "Space") // Update previously imported users
	m.waitFor("[x] Update previously imported users")
	m.keys("Enter")
	m.waitFor("Roles for new users", "Viewer")
	m.keys("End", "Space", "Enter")
	summary := m.waitFor("Press Enter to import", "usersync import entra")
	m.keys("Enter")
	m.waitFor("completed")
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("quit: exit %d\n%s", code, m.screen())
	}
	runTwin(t, e, twin, summary)
	if u := usersByName(t, e)["jdoe-internal"]; u.Source != "contoso" {
		t.Errorf("the internal user was not linked by email with Update ticked: %+v", u)
	}
}

// TestWizard_TwoEntersOnTheSummaryStartOneImport: Enter pressed twice in
// one burst on the summary starts one import, journaled once.
func TestWizard_TwoEntersOnTheSummaryStartOneImport(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	m := startTerminal(t, e, 80, 24, "import")
	m.waitFor("dc01")
	m.keys("Enter")
	m.waitFor("Search by username or group name")
	m.typeText("andbal")
	m.keys("Enter")
	m.waitFor(`Found 1 search result for "andbal"`)
	m.keys("Space")
	m.waitFor("1 selected")
	m.keys("Enter")
	m.waitFor("Enable users after import")
	m.keys("End", "Enter")
	m.waitFor("What will happen", "usersync import ldap")
	m.keys("Enter", "Enter") // one burst: the second arrives before the progress screen
	m.waitFor("completed")
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("quit: exit %d\n%s", code, m.screen())
	}
	var runs []runJSON
	e.jsonOf(&runs, "runs", "list", "--json")
	if len(runs) != 1 {
		t.Errorf("two Enters journaled %d runs, want 1: %+v", len(runs), runs)
	}
}

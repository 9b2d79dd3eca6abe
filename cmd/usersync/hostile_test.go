package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// Hostile names in a real slapd: an escape sequence in a uid, a newline
// that would add a fake row, a C1 control, a right-to-left override in a
// username (which the PRECIS profile refuses) and in a display name and a
// group name (which may hold bidirectional text, and are stored).
const (
	hostileUID     = "evil\x1b[2J\x1b]0;pwned\x07"
	hostileFakeRow = "Mallory\nroot  Root  internal  Administrator"
	hostileC1      = "c1\u009b2J\u0085x"
	hostileSpoof   = "bidi\u202egnp.exe"
	hostileRTL     = "Bob \u202eevil\u202c"
	hostileGroup   = "Ops\u2066x\u2069"
)

func startHostileDC01(t *testing.T) *dc01 {
	t.Helper()
	slapdtest.Require(t)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	data.AddUser(slapdtest.User{UID: hostileUID, RDN: "cn", CN: "Evil Escaper", Mail: "evil@example.com"})
	data.AddUser(slapdtest.User{UID: "mallory", CN: "Mallory", DisplayName: hostileFakeRow, Mail: "mallory@example.com"})
	data.AddUser(slapdtest.User{UID: "c1user", CN: "C One", DisplayName: hostileC1, Mail: "c1@example.com"})
	data.AddUser(slapdtest.User{UID: hostileSpoof, RDN: "cn", CN: "Bidi Spoof", Mail: "bidi@example.com"})
	rtl := data.AddUser(slapdtest.User{UID: "rtl", CN: "Bob Evil", DisplayName: hostileRTL, Mail: "rtl@example.com"})
	data.AddUser(slapdtest.User{UID: "andbal", CN: "Andrew Baldwin", Mail: "andbal@example.com"})
	data.AddGroup(slapdtest.Group{CN: hostileGroup, Members: []string{rtl}})
	return &dc01{srv: slapdtest.Start(t, slapdtest.Options{Data: data})}
}

// requireNoRawControls fails if out holds anything a terminal would act on
// rather than show: a control character other than the layout's newline
// and tab, DEL, a C1 control, a bidirectional control or invalid UTF-8.
func requireNoRawControls(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("%s is not valid UTF-8:\n%q", what, out)
	}
	for i, r := range out {
		bad := (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
		if bad {
			t.Fatalf("%s holds %U raw at byte %d:\n%q", what, r, i, out)
		}
	}
}

// linesWith returns the lines of out that contain s.
func linesWith(out, s string) []string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			got = append(got, l)
		}
	}
	return got
}

func TestHostile_TextOutputShowsDirectoryTextVisiblyJSONKeepsItExact(t *testing.T) {
	d := startHostileDC01(t)
	e := newEnv(t)
	d.configure(e)

	// The plan and the import, as text.
	plan := e.run("import", "ldap", "--server", "dc01", "--query", "*")
	requireNoRawControls(t, "the plan", plan.stdout)
	requireNoRawControls(t, "stderr of the plan", plan.stderr)
	imp := e.run("import", "ldap", "--server", "dc01", "--query", "*", "--select", "all", "--enable", "--yes")
	if imp.code != exitEntryError {
		t.Fatalf("import: exit %d, want %d (entries failed)\n%s\n%s", imp.code, exitEntryError, imp.stdout, imp.stderr)
	}
	requireNoRawControls(t, "the import's report", imp.stdout)
	requireNoRawControls(t, "stderr of the import", imp.stderr)
	for _, want := range []string{`evil\x1b[2J\x1b]0;pwned\x07`, `bidi\u202egnp.exe`, "U+202E RIGHT-TO-LEFT OVERRIDE at position 5"} {
		if !strings.Contains(imp.stdout, want) {
			t.Errorf("the report does not show %q:\n%s", want, imp.stdout)
		}
	}
	// The newline is shown in mallory's reason, on her row: no fake row.
	if rows := linesWith(imp.stdout, "mallory"); len(rows) != 1 || !strings.Contains(rows[0], `Mallory\nroot`) {
		t.Errorf("mallory's rows = %q, want one:\n%s", rows, imp.stdout)
	}
	for _, l := range strings.Split(imp.stdout, "\n") {
		if strings.HasPrefix(l, "root") {
			t.Errorf("a fake row: %q\n%s", l, imp.stdout)
		}
	}

	// The journal keeps the exact names; runs show replays them visibly.
	var runs []runJSON
	e.jsonOf(&runs, "runs", "list", "--json")
	if len(runs) != 1 {
		t.Fatalf("runs: %+v", runs)
	}
	id := fmt.Sprint(runs[0].ID)
	show := e.ok("runs", "show", id)
	requireNoRawControls(t, "runs show", show.stdout)
	if !strings.Contains(show.stdout, `bidi\u202egnp.exe`) {
		t.Errorf("runs show does not name the spoof visibly:\n%s", show.stdout)
	}
	requireNoRawControls(t, "runs list", e.ok("runs", "list").stdout)
	var run runJSON
	e.jsonOf(&run, "runs", "show", id, "--json")
	for _, name := range []string{hostileUID, hostileSpoof, "mallory", "c1user"} {
		ent, ok := entryOf(run, name)
		if !ok || ent.Action != "failed" {
			t.Errorf("runs show --json: entry %q = %+v (found %v), want failed", name, ent, ok)
		}
	}
	if ent, _ := entryOf(run, hostileSpoof); ent.Reason != `username "bidi\u202egnp.exe" is not allowed: U+202E RIGHT-TO-LEFT OVERRIDE at position 5` {
		t.Errorf("the spoof's reason = %q", ent.Reason)
	}

	// What was stored: rtl with a right-to-left override in its display
	// name, the group with isolates in its name. Text shows them visibly,
	// JSON exactly.
	list := e.ok("users", "list")
	requireNoRawControls(t, "users list", list.stdout)
	if !strings.Contains(list.stdout, `Bob \u202eevil\u202c`) {
		t.Errorf("users list does not show rtl's display name visibly:\n%s", list.stdout)
	}
	users := usersByName(t, e)
	if u, ok := users["rtl"]; !ok || u.DisplayName != hostileRTL {
		t.Errorf("users list --json: rtl = %+v, want display name %q", u, hostileRTL)
	}
	for name := range users {
		if name != "rtl" && name != "andbal" {
			t.Errorf("users list --json: %q was stored", name)
		}
	}
	requireNoRawControls(t, "users show", e.ok("users", "show", "rtl").stdout)
	groups := e.ok("groups", "list")
	requireNoRawControls(t, "groups list", groups.stdout)
	if !strings.Contains(groups.stdout, `Ops\u2066x\u2069`) {
		t.Errorf("groups list does not show the group visibly:\n%s", groups.stdout)
	}
	requireNoRawControls(t, "groups show", e.ok("groups", "show", hostileGroup).stdout)
	var g groupJSON
	e.jsonOf(&g, "groups", "show", hostileGroup, "--json")
	if g.Name != hostileGroup {
		t.Errorf("groups show --json: name %q, want %q", g.Name, hostileGroup)
	}
	requireNoRawControls(t, "users show (via group)", e.ok("users", "show", "RTL").stdout)
}

func TestHostile_UsersAddRefusesWhatThePrecisProfileRefuses(t *testing.T) {
	e := newEnv(t)
	r := e.run("users", "add", hostileSpoof)
	if r.code != exitFailure || !strings.Contains(r.stderr, "U+202E RIGHT-TO-LEFT OVERRIDE at position 5") {
		t.Fatalf("users add %q: exit %d, stderr %q", hostileSpoof, r.code, r.stderr)
	}
	requireNoRawControls(t, "stderr of users add", r.stderr)
	e.ok("users", "add", "josé", "--name", hostileRTL)
	out := e.ok("users", "list")
	requireNoRawControls(t, "users list", out.stdout)
	var u userJSON
	e.jsonOf(&u, "users", "show", "JOSÉ", "--json")
	if u.Username != "josé" || u.DisplayName != hostileRTL {
		t.Errorf("users show --json = %+v", u)
	}
}

// TestHostile_WizardAndUsersAppInATerminal drives the real binary in tmux
// against the hostile slapd: the results, and the Users app after an
// import, show the names visibly; nothing clears the screen, sets the
// window title or adds a row.
func TestHostile_WizardAndUsersAppInATerminal(t *testing.T) {
	d := startHostileDC01(t)
	e := newEnv(t)
	d.configure(e)
	e.ok("users", "add", "root", "--name", "Root")

	m := startTerminal(t, e, 100, 24, "import")
	m.waitFor("dc01")
	m.keys("Enter")
	m.waitFor("Search by username or group name")
	m.typeText("*")
	m.keys("Enter")
	s := m.waitFor(`Found 7 search results for "*"`, "andbal")
	time.Sleep(200 * time.Millisecond) // let the last frame land
	s = m.screen()
	requireNoRawControls(t, "the results pane", strings.TrimRight(s, "\n"))
	for _, want := range []string{`evil\x1b[2J`, `bidi\u202egnp.exe`, `Ops\u2066x`, `Bob \u2`} {
		if !strings.Contains(s, want) {
			t.Errorf("the results do not show %q:\n%s", want, s)
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "root") {
			t.Errorf("a fake row in the results:\n%s", s)
		}
	}
	if rows := linesWith(s, "mallory"); len(rows) != 1 {
		t.Errorf("mallory takes %d rows:\n%s", len(rows), s)
	}
	if rows := linesWith(s, `bidi\u202egnp.exe`); len(rows) != 1 || !strings.Contains(rows[0], "[-]") || strings.Contains(rows[0], "Select to import") {
		t.Errorf("the spoofed username's row = %q, want one that cannot be selected:\n%s", rows, s)
	}
	if title := strings.TrimSpace(m.tmux("display-message", "-t", "t", "-p", "#{pane_title}")); strings.Contains(title, "pwned") {
		t.Errorf("a directory's name set the window title: %q", title)
	}
	m.keys("C-c")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("Ctrl+C: exit status %d\n%s", code, m.screen())
	}

	e.run("import", "ldap", "--server", "dc01", "--query", "*", "--select", "all", "--yes")
	m = startTerminal(t, e, 100, 24)
	s = m.waitFor("rtl", `Bob \u202eevil\u202c`)
	requireNoRawControls(t, "the Users app pane", strings.TrimRight(s, "\n"))
	m.keys("4")
	s = m.waitFor(`Ops\u2066x\u2069`)
	requireNoRawControls(t, "the groups tab", strings.TrimRight(s, "\n"))
	m.keys("C-c")
	m.waitExit()
}

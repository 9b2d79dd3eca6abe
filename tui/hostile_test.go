package tui

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// Hostile text a directory (or a damaged store) may hold: an escape
// sequence that clears the screen, a title-setting OSC, a carriage return
// that overwrites a row, a newline that adds one, C1 controls and a
// right-to-left override.
const (
	hostileFakeRow = "Mallory\nroot  Root  internal  Administrator"
	hostileClear   = "evil\x1b[2J\x1b]0;pwned\x07"
	hostileCR      = "Eve\rroot"
	hostileC1      = "c1\u009b2J\u0085x"
	hostileBidi    = "bidi\u202egnp.exe"
)

// requireVisible fails unless content (a frame, with the app's own
// styles) holds none of the hostile text raw: no ESC but the styles', no
// BEL, CR, C1 control or bidirectional control, and once the styles are
// stripped, no control character but the frame's newlines.
func requireVisible(t *testing.T, content string) {
	t.Helper()
	for _, raw := range []string{"\x1b[2J", "\x1b]0;", "\x07", "\r", "\u009b", "\u0085", "\u202e", "\u2066"} {
		if strings.Contains(content, raw) {
			t.Fatalf("the frame holds %q raw:\n%s", raw, content)
		}
	}
	plain := ansi.Strip(content)
	if !utf8.ValidString(plain) {
		t.Fatalf("the frame is not valid UTF-8:\n%q", plain)
	}
	for i, r := range plain {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c {
			t.Fatalf("the frame holds %U at byte %d:\n%s", r, i, plain)
		}
	}
}

// rowsWith returns the lines of the frame that contain s.
func rowsWith(frame, s string) []string {
	var out []string
	for _, l := range strings.Split(frame, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func hostileEntries() []directory.Entry {
	return []directory.Entry{
		user("mallory", hostileFakeRow, "mallory@example.org"),
		user("eve", hostileCR, "eve@example.org"),
		user("evil\x1b[2J", hostileClear, "evil@example.org"),
		user("c1", hostileC1, "c1@example.org"),
		user(hostileBidi, "Bidi", "bidi@example.org"),
		user("andbal", "Andrew Baldwin", "andbal@example.org"),
	}
}

func TestHostile_SearchResultsShowDirectoryTextVisiblyOneRowEach(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "users.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := wizardConfig(&memDir{name: "dc01", entries: hostileEntries()}, nil)
	cfg.Store = st
	d := newDriver(t, cfg, StartImport)
	d.keys("enter") // dc01
	d.typeText("*")
	d.keys("enter")
	d.mustShow("Found 6 search results")
	requireVisible(t, d.m.View().Content)
	frame := d.screen()

	// The newline is shown, not obeyed: Mallory's display name stays on
	// her row and adds no "root" row below it; the reason her row cannot
	// be selected quotes it.
	if rows := rowsWith(frame, "mallory"); len(rows) != 1 || !strings.Contains(rows[0], `display name "Mallory\nroot`) {
		t.Errorf("mallory's rows = %q, want one:\n%s", rows, frame)
	}
	for _, l := range strings.Split(frame, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " ›[]x-●▣⊘"), "root") {
			t.Errorf("a row starts with root (a fake row):\n%s", frame)
		}
	}
	if rows := rowsWith(frame, "eve"); len(rows) != 1 || !strings.Contains(rows[0], "Eve␍root") {
		t.Errorf("eve's rows = %q, want one showing Eve␍root:\n%s", rows, frame)
	}
	if rows := rowsWith(frame, `evil\x1b[2J`); len(rows) != 1 {
		t.Errorf("the escape sequence is not shown visibly once: %q\n%s", rows, frame)
	}
	// The spoofed name is shown as it is spelt, and it cannot be selected:
	// the row says why instead of "Select to import".
	// The reason is long: the row cuts it, the footer shows it whole for
	// the row under the cursor.
	rows := rowsWith(frame, `bidi\u202egnp.exe`)
	if len(rows) != 1 || strings.Contains(rows[0], "Select to import") || !strings.Contains(rows[0], "[-]") || !strings.Contains(rows[0], `username "bidi\u202egnp.exe" is not`) {
		t.Errorf("the spoofed row = %q, want a blocked row saying it is not allowed:\n%s", rows, frame)
	}
	d.keys("down", "down", "down", "down")
	if foot := d.screen(); !strings.Contains(foot, "row 5 of 6 · username") || !strings.Contains(foot, "is not allowed") {
		t.Errorf("the footer does not give the row's whole reason:\n%s", foot)
	}
	if strings.Contains(frame, "bidiexe.png") {
		t.Errorf("the right-to-left override was obeyed:\n%s", frame)
	}
	// The rows with control characters would fail: they cannot be selected either.
	d.keys("a")
	s := d.active().(*searchScreen)
	if got := len(s.list.results.selected); got != 1 {
		t.Errorf("select all ticked %d rows, want only andbal", got)
	}
	requireVisible(t, d.m.View().Content)
}

func TestHostile_UsersAppCardsAndPickersShowStoreTextVisibly(t *testing.T) {
	users := []store.User{
		{Username: "mallory", DisplayName: hostileFakeRow, Kind: store.External, Source: "dc01", ExternalID: "x\x1b[2J", DN: "cn=" + hostileCR, Enabled: true, Groups: []string{"Ops" + "\u202e"}},
		{Username: "root", DisplayName: "Root", Kind: store.Internal, Enabled: true},
		{Username: hostileBidi, DisplayName: hostileC1, Kind: store.Internal, Enabled: true},
	}
	groups := []store.Group{{Name: "Ops\u202e\n", Kind: store.External, Source: "dc01", ExternalID: "g", DN: hostileClear, Members: []string{"mallory", hostileBidi}}}
	s := newUsersScreen(testShared(Config{}))
	s.SetSize(80, 22)
	s.renew()
	s.Update(storeLoadedMsg{tag: s.tag(), users: users, groups: groups})
	view := s.View()
	requireVisible(t, view)
	plain := ansi.Strip(view)
	if rows := rowsWith(plain, "Mallory"); len(rows) != 1 {
		t.Errorf("Mallory's rows = %q, want one:\n%s", rows, plain)
	}
	if rows := rowsWith(plain, "Mallory␊root  Root  internal"); len(rows) != 1 {
		t.Errorf("Mallory's display name is not shown visibly on her row:\n%s", plain)
	}
	if rows := rowsWith(plain, "● root"); len(rows) != 1 {
		t.Errorf("rows of root = %q, want only the real root's:\n%s", rows, plain)
	}
	s.Update(keyPress("4")) // the groups tab
	requireVisible(t, s.View())

	u := newUserScreen(testShared(Config{}), "mallory")
	u.SetSize(80, 22)
	u.renew()
	u.Update(userLoadedMsg{tag: u.tag(), user: users[0], roles: []store.EffectiveAssignment{{Assignment: store.Assignment{Role: "Viewer", Scope: "x\ry"}, Via: "Ops\u202e"}}})
	requireVisible(t, u.View())
	if !strings.Contains(ansi.Strip(u.View()), "Mallory␊root  Root") {
		t.Errorf("the user card does not show the display name visibly:\n%s", ansi.Strip(u.View()))
	}

	g := newGroupScreen(testShared(Config{}), "Ops")
	g.SetSize(80, 22)
	g.renew()
	g.Update(groupLoadedMsg{tag: g.tag(), group: groups[0]})
	requireVisible(t, g.View())
	g.Update(groupLoadedMsg{tag: g.tag(), err: errors.New("read " + hostileClear)})
	requireVisible(t, g.View())

	p := newUserPicker(testShared(Config{}), "Copy roles from", "Copy roles to "+hostileBidi+" from which user?", "", tag{})
	p.SetSize(80, 22)
	p.renew()
	p.Update(usersLoadedMsg{tag: p.tag(), users: users})
	requireVisible(t, p.View())
}

func TestHostile_ReportSummaryAndDiffShowJournalTextVisibly(t *testing.T) {
	run := &store.Run{ID: 7, Status: store.RunCompleted, Actor: "tester", Source: "dc01", Command: "usersync import ldap --select '" + hostileClear + "'",
		Counts: store.Counts{Created: 1, Failed: 3},
		Entries: []store.RunEntry{
			{Name: "andbal", Type: directory.TypeUser, Action: store.ActionCreated},
			{Name: "evil\x1b[2J", Type: directory.TypeUser, Action: store.ActionFailed, Reason: `username "evil\x1b[2J" contains a control character`},
			{Name: hostileFakeRow, Type: directory.TypeUser, Action: store.ActionFailed, Reason: "display name " + hostileFakeRow},
			{Name: hostileBidi, Type: directory.TypeUser, Action: store.ActionFailed, Reason: "not allowed", Group: "Ops\u202e"},
		}}
	sh := testShared(Config{})
	r := newReportScreen(sh, job{verb: "import"}, run, errors.New("apply: "+hostileCR))
	r.SetSize(80, 22)
	view := r.View()
	requireVisible(t, view)
	plain := ansi.Strip(view)
	if rows := rowsWith(plain, "Mallory"); len(rows) != 1 || !strings.Contains(rows[0], "Mallory␊root") {
		t.Errorf("the report's Mallory rows = %q, want one:\n%s", rows, plain)
	}

	search, sh2 := newTestSearch(t)
	startSearch(t, search, "*")
	rows := make([]resultRow, 0)
	for _, e := range hostileEntries() {
		rows = append(rows, row(e, store.StateNew, ""))
	}
	search.Update(batchMsg{tag: search.tag(), rows: rows, done: true})
	requireVisible(t, search.View())
	search.Update(keyPress("a"))
	search.Update(keyPress("enter"))
	sum := newSummaryScreen(sh2, search.sess)
	sum.SetSize(80, 22)
	sum.Init()
	sum.Update(plannedMsg{tag: sum.tag(), run: run, prepared: &importer.Prepared{Warnings: []string{"2 users share the email x: " + hostileFakeRow}}})
	requireVisible(t, sum.View())

	df := newDiffScreen(sh2, "dc01", user("mallory", hostileFakeRow, "m@example.org"))
	df.SetSize(80, 22)
	df.Init()
	df.Update(diffMsg{tag: df.tag(), diffs: []store.FieldDiff{{Field: "display_name", Directory: hostileFakeRow, Store: hostileCR}}})
	requireVisible(t, df.View())
	if got := rowsWith(ansi.Strip(df.View()), "display_name"); len(got) != 1 {
		t.Errorf("the difference takes %d rows, want 1:\n%s", len(got), ansi.Strip(df.View()))
	}
}

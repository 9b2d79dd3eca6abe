package main

import (
	"strings"
	"testing"
)

// The TUI's screens in a real 80x24 terminal without colour (NO_COLOR):
// what a person sees and what their keys do, on the demo's data.

// lastLine is the screen's last non-empty line: the help line.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func requireWayOut(t *testing.T, where, s string) {
	t.Helper()
	if l := strings.TrimRight(lastLine(s), " "); !strings.Contains(l, "? help") || !strings.HasSuffix(l, "q quit") {
		t.Errorf("%s: the help line does not end with ? help and q quit: %q", where, l)
	}
}

func startDemo(t *testing.T) *terminal {
	t.Helper()
	e, _ := demoEnv(t)
	e.extra = append(e.extra, "NO_COLOR=1")
	m := startTerminal(t, e, 80, 24, "demo")
	m.waitFor("aandrei", "Andrei Aandrei")
	return m
}

// TestTUIScreens_ResultsShowFatesAndTakeATypedNameAsASearch: the an* rows
// of the demo each show their fate in the gutter (import, synchronize,
// blocked) with a legend, without colour; a name typed while the list has
// the focus goes to the search box, ticking nothing and opening nothing.
func TestTUIScreens_ResultsShowFatesAndTakeATypedNameAsASearch(t *testing.T) {
	m := startDemo(t)
	requireWayOut(t, "Users app", m.screen())
	m.keys("i")
	m.waitFor("Pick a directory")
	m.keys("Enter")
	m.waitFor("Search by username or group name")
	m.typeText("an*")
	m.keys("Enter")
	s := m.waitFor(`Found 8 search results for "an*"`, "Keys act on the list below")
	for _, row := range []struct{ glyph, name, says string }{
		{"↻", "andarm", "Select to synchronize"},
		{"+", "andbal", "Select to import"},
		{"⊘", "AAndrei", "Username already exists as an internal user"},
		{"↻", "Analysis", "Select to synchronize"},
	} {
		found := false
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, row.glyph+" ") && strings.Contains(l, " "+row.name+" ") && strings.Contains(l, row.says) {
				found = true
			}
		}
		if !found {
			t.Errorf("no row starts with %s for %s (%s):\n%s", row.glyph, row.name, row.says, s)
		}
	}
	// The actions line up.
	col := -1
	for _, l := range strings.Split(s, "\n") {
		i := strings.Index(l, "Select to ")
		if i < 0 {
			i = strings.Index(l, "Username already")
		}
		if i < 0 {
			continue
		}
		if c := len([]rune(l[:i])); col >= 0 && c != col {
			t.Errorf("the actions do not line up (%d, %d):\n%s", col, c, s)
		} else {
			col = c
		}
	}
	if !strings.Contains(s, "+ import  ↻ synchronize  ⊘ blocked") {
		t.Errorf("no legend:\n%s", s)
	}
	requireWayOut(t, "results", s)

	// The person thinks the box has the focus and types a new name.
	m.typeText("andb")
	s = m.waitFor("› Search: andb")
	if strings.Contains(s, "selected") || strings.Contains(s, "Differences") {
		t.Fatalf("typing andb on the list ticked rows or opened a screen:\n%s", s)
	}
	m.typeText("*") // the box has the focus now: andb*
	m.keys("Enter")
	m.waitFor(`Found 1 search result for "andb*"`, "andbal")
	m.keys("C-c")
	m.waitExit()
}

// TestTUIScreens_SummaryCommandIsCopiedAsOneLineAndTheNextImportStartsFromDefaults:
// the summary's command breaks only between arguments, y puts it on the
// clipboard (OSC 52, a tmux buffer here) as one line, and a new search
// starts from the default options.
func TestTUIScreens_SummaryCommandIsCopiedAsOneLineAndTheNextImportStartsFromDefaults(t *testing.T) {
	m := startDemo(t)
	m.tmux("set-option", "-s", "set-clipboard", "on")
	m.keys("i")
	m.waitFor("Pick a directory")
	m.keys("Enter")
	m.waitFor("Search by username or group name")
	m.typeText("an*")
	m.keys("Enter")
	m.waitFor(`Found 8 search results for "an*"`)
	m.keys("a")
	m.waitFor("7 selected")
	m.keys("Enter")
	m.waitFor("Enable users after import")
	requireWayOut(t, "options", m.screen())
	m.keys("Space", "Down", "Enter") // enable; Set roles
	m.waitFor("Role assignments: the roles new users and groups get", "Viewer")
	m.keys("End", "Space", "Enter") // Viewer
	m.waitFor("Assign roles to the user/group: Viewer")
	m.keys("End", "Enter")
	s := m.waitFor("The same import from a script", "--yes")
	requireWayOut(t, "summary", s)
	const want = "usersync import ldap --server dc01 --query 'an*' --select all --roles Viewer --enable --yes"
	if !strings.Contains(folded(s), want) {
		t.Fatalf("the summary's command is not %s:\n%s", want, s)
	}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " ")
		if strings.HasSuffix(l, "--roles") || strings.HasSuffix(l, "--query") || strings.HasSuffix(l, "--select") {
			t.Errorf("a line ends with an option whose value is on the next: %q", l)
		}
	}
	m.keys("y")
	m.waitFor("Copied the command")
	if got := strings.TrimRight(m.tmux("show-buffer"), "\n"); got != want {
		t.Errorf("y copied %q, want %q", got, want)
	}

	// Back to the search, a new search: the options are the defaults.
	m.keys("Escape")
	m.waitFor("[x] Enable users after import")
	m.keys("Escape")
	m.waitFor("Keys act on the list below")
	m.keys("Tab", "C-u")
	m.typeText("ang*")
	m.keys("Enter")
	m.waitFor(`Found 1 search result for "ang*"`)
	m.keys("Space", "Enter")
	s = m.waitFor("Enable users after import")
	for _, w := range []string{"[ ] Enable users after import", "user/group: none", "roles of: nobody"} {
		if !strings.Contains(s, w) {
			t.Errorf("a new search's options are not the defaults: no %q\n%s", w, s)
		}
	}
	m.keys("C-c")
	m.waitExit()
}

// TestTUIScreens_CardsOfferOnlyWhatTheyCanDo: the internal group Service
// Desk offers no Synchronize; copying roles from andarm, whose only role
// comes through a group, says that nothing was copied and why; the group
// Analysis's differences list andarm's new email.
func TestTUIScreens_CardsOfferOnlyWhatTheyCanDo(t *testing.T) {
	m := startDemo(t)
	m.keys("4")
	m.waitFor("[User groups]", "Service Desk")
	m.keys("Down", "Enter")
	s := m.waitFor("Group details: Service Desk")
	if strings.Contains(s, "[ Synchronize ]") || strings.Contains(lastLine(s), "synchronize") {
		t.Errorf("the internal group offers Synchronize:\n%s", s)
	}
	requireWayOut(t, "group card", s)
	m.keys("Escape")
	m.waitFor("[User groups]")
	m.keys("1") // apart from Escape: together they read as alt+1
	m.waitFor("[All users]")
	m.keys("Down", "Down", "Enter") // anisha
	m.waitFor("User anisha")
	requireWayOut(t, "user card", m.screen())
	m.keys("c")
	m.waitFor("Copy roles and assignments to anisha from which user?")
	m.keys("Down", "Enter") // andarm
	m.waitFor("Copy the roles and assignments of andarm to anisha? (y/N)")
	m.keys("y")
	s = folded(m.waitFor("Nothing copied"))
	if !strings.Contains(s, "andarm holds no roles of their own; Analyst comes through group Analysis, which copying does not give.") {
		t.Errorf("the card does not say why nothing was copied:\n%s", s)
	}

	m.keys("Escape")
	m.waitFor("[All users]")
	m.keys("i")
	m.waitFor("Pick a directory")
	m.keys("Enter")
	m.waitFor("Search by username or group name")
	m.typeText("an*")
	m.keys("Enter")
	m.waitFor(`Found 8 search results for "an*"`)
	m.keys("End", "Right")
	s = m.waitFor("What synchronizing group Analysis from dc01 would change", "update   andarm")
	if strings.Contains(s, "Nothing would change") || !strings.Contains(s, "email: andrew.armstrong@corp.example → andarm@corp.example") {
		t.Errorf("the group's differences do not show andarm's email:\n%s", s)
	}
	m.keys("C-c")
	m.waitExit()
}

package tui

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

func testShared(cfg Config) *shared {
	return &shared{cfg: cfg, st: newStyles(true, true), keys: newKeyMap()}
}

// anRows are the product's example: a group to synchronize, a user to
// synchronize, a new user, a user blocked by an internal one, and one
// taken by another directory.
func anRows() []resultRow {
	return []resultRow{
		row(group("Analysis"), store.StateImported, ""),
		row(user("andarm", "andarm", "andarm@example.org"), store.StateImported, ""),
		row(user("andbal", "andbal", "andbal@example.org"), store.StateNew, ""),
		row(user("aandrei", "aandrei", "aandrei@example.org"), store.StateBlockedInternal, store.ReasonInternal),
		row(user("anders", "Anders", "anders@example.org"), store.StateBlockedSource, "Username already taken by a user from dc02"),
	}
}

func newTestSearch(t *testing.T) (*searchScreen, *shared) {
	t.Helper()
	sh := testShared(Config{})
	s := newSearchScreen(sh, &importSession{source: Source{Name: "dc01", Kind: directory.KindLDAP}, dir: &memDir{name: "dc01"}})
	s.SetSize(80, 22)
	s.Init()
	return s, sh
}

// startSearch types q and presses Enter, without running the search's
// commands: the test feeds the batches itself.
func startSearch(t *testing.T, s *searchScreen, q string) {
	t.Helper()
	for _, m := range typeText(q) {
		s.Update(m)
	}
	s.Update(keyPress("enter"))
	if !s.list.searching {
		t.Fatalf("Enter did not start a search for %q", q)
	}
}

func TestResults_BlockedRowsAreNeverSelectable(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	s.Update(batchMsg{tag: s.tag(), rows: anRows(), done: true})
	r := s.list.results

	r.t.MoveTo(3) // aandrei, an internal user's name
	s.Update(keyPress("space"))
	if len(r.selected) != 0 {
		t.Fatalf("Space ticked a blocked row: %v", r.selected)
	}
	r.t.MoveTo(4) // taken by dc02's user
	s.Update(keyPress("space"))
	if len(r.selected) != 0 {
		t.Fatalf("Space ticked a row blocked by another source: %v", r.selected)
	}
	r.t.MoveTo(2)
	s.Update(keyPress("space"))
	if _, ok := r.selected["uuid-andbal"]; !ok || len(r.selected) != 1 {
		t.Fatalf("Space did not tick andbal: %v", r.selected)
	}
	s.Update(keyPress("space"))
	if len(r.selected) != 0 {
		t.Fatalf("a second Space did not untick: %v", r.selected)
	}
}

func TestResults_SelectAllSkipsBlockedAndAgainSelectsNone(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	s.Update(batchMsg{tag: s.tag(), rows: anRows(), done: true})
	r := s.list.results
	s.Update(keyPress("a"))
	if len(r.selected) != 3 {
		t.Fatalf("a selected %d rows, want the 3 selectable ones: %v", len(r.selected), r.selected)
	}
	for _, id := range []string{"uuid-aandrei", "uuid-anders"} {
		if _, ok := r.selected[id]; ok {
			t.Fatalf("a selected blocked row %s", id)
		}
	}
	if !r.AllSelected() {
		t.Fatal("AllSelected is false after a")
	}
	s.Update(keyPress("a"))
	if len(r.selected) != 0 {
		t.Fatalf("a again left %d selected, want none", len(r.selected))
	}
}

func TestSearch_HeaderCountsWhileStreamingThenFound(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	rows := anRows()
	s.Update(batchMsg{tag: s.tag(), rows: rows[:2]})
	view := ansi.Strip(s.View())
	if !strings.Contains(view, `Searching… 2 results so far for "an*"`) {
		t.Fatalf("while streaming, header is not counting:\n%s", view)
	}
	s.Update(batchMsg{tag: s.tag(), rows: rows[2:], done: true})
	view = ansi.Strip(s.View())
	if !strings.Contains(view, `Found 5 search results for "an*"`) {
		t.Fatalf("header after the search:\n%s", view)
	}
	for _, want := range []string{"Select to synchronize", "Select to import", store.ReasonInternal, "taken by a user from dc02", glyphGroup + " Analysis", glyphUser + " andbal"} {
		if !strings.Contains(view, want) {
			t.Errorf("results do not show %q:\n%s", want, view)
		}
	}
	if !s.list.complete {
		t.Error("a search that ended without error is not complete")
	}
}

func TestSearch_LateBatchOfAnEarlierSearchIsDropped(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	old := s.tag()
	s.Update(keyPress("tab")) // back to the search box
	s.list.box.SetValue("")
	startSearch(t, s, "b*")
	s.Update(batchMsg{tag: old, rows: anRows(), done: true})
	if n := s.list.results.t.Total(); n != 0 {
		t.Fatalf("a batch of the previous search was shown: %d rows", n)
	}
	if !s.list.searching {
		t.Fatal("a late batch ended the current search")
	}
}

func TestSearch_ErrorShownInlineAndWizardStaysUsable(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "(bad")
	s.Update(batchMsg{tag: s.tag(), done: true, err: fmt.Errorf(`LDAP Result Code 87 "Filter Error"`)})
	view := ansi.Strip(s.View())
	lines := strings.Split(view, "\n")
	if !strings.Contains(lines[1], "The search failed") || !strings.Contains(view, "Filter Error") {
		t.Fatalf("the error is not under the search box:\n%s", view)
	}
	if s.focus != focusSearchBox {
		t.Fatalf("focus is %v, want the search box to type a new search", s.focus)
	}
	s.list.box.SetValue("")
	startSearch(t, s, "an*")
	s.Update(batchMsg{tag: s.tag(), rows: anRows(), done: true})
	if view := ansi.Strip(s.View()); !strings.Contains(view, "Found 5 search results") || strings.Contains(view, "failed") {
		t.Fatalf("the next search did not recover:\n%s", view)
	}
}

func TestSearch_EmptyQueryAsksForText(t *testing.T) {
	s, _ := newTestSearch(t)
	s.Update(keyPress("enter"))
	if s.list.searching {
		t.Fatal("an empty query started a search")
	}
	if !strings.Contains(ansi.Strip(s.View()), "Type a username or group name") {
		t.Fatalf("no hint for an empty query:\n%s", ansi.Strip(s.View()))
	}
}

func TestSearch_PlaceholderIsTheProductsHint(t *testing.T) {
	s, _ := newTestSearch(t)
	if !strings.Contains(ansi.Strip(s.View()), "Search by username or group name") {
		t.Fatalf("the search box does not show the hint:\n%s", ansi.Strip(s.View()))
	}
}

func TestSearch_DisabledInDirectoryIsMarked(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	e := user("andis", "Andis", "andis@example.org")
	e.Disabled = true
	s.Update(batchMsg{tag: s.tag(), rows: []resultRow{row(e, store.StateNew, "")}, done: true})
	view := ansi.Strip(s.View())
	if !strings.Contains(view, glyphUserDisabled+" andis") || !strings.Contains(view, glyphUserDisabled+" disabled") {
		t.Fatalf("disabled entry not marked (with its legend):\n%s", view)
	}
}

func TestSearch_FilterNarrowsTheViewAndEscClearsIt(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	s.Update(batchMsg{tag: s.tag(), rows: anRows(), done: true})
	s.Update(keyPress("/"))
	if !s.Typing() {
		t.Fatal("/ did not focus the filter")
	}
	var cmd tea.Cmd
	for _, m := range typeText("andb") {
		cmd = s.Update(m)
	}
	// The filter runs in a command: run the last one.
	for _, msg := range flatten(t, cmd) {
		s.Update(msg)
	}
	if n := s.list.results.t.Len(); n != 1 {
		t.Fatalf("filter andb shows %d rows, want 1", n)
	}
	cmd = s.Update(keyPress("esc"))
	for _, msg := range flatten(t, cmd) {
		s.Update(msg)
	}
	if n := s.list.results.t.Len(); n != 5 {
		t.Fatalf("Esc left %d rows, want all 5", n)
	}
}

func TestSearch_EnterWithoutSelectionOnSynchronizeRowOpensDiff(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	s.Update(batchMsg{tag: s.tag(), rows: anRows(), done: true})
	s.list.results.t.MoveTo(1) // andarm, imported before
	msgs := update(t, s, keyPress("enter"))
	if !pushes[*diffScreen](msgs) {
		t.Fatalf("Enter on a synchronize row did not open the differences: %v", msgs)
	}
	s.list.results.t.MoveTo(2) // andbal, new
	msgs = update(t, s, keyPress("d"))
	if pushes[*diffScreen](msgs) {
		t.Fatal("d on a new row opened a difference")
	}
	s.list.results.t.MoveTo(0)
	msgs = update(t, s, keyPress("right"))
	if !pushes[*diffScreen](msgs) {
		t.Fatal("→ on a synchronize row did not open the differences")
	}
	s.Update(keyPress("space"))
	msgs = update(t, s, keyPress("enter"))
	if !pushes[*optionsScreen](msgs) {
		t.Fatalf("Enter with a row ticked did not move on to the options: %v", msgs)
	}
}

// pushes reports whether msgs open a screen of type S.
func pushes[S screen](msgs []tea.Msg) bool {
	for _, m := range msgs {
		if p, ok := m.(pushMsg); ok {
			if _, ok := p.s.(S); ok {
				return true
			}
		}
	}
	return false
}

// Navigation as tests look at it: the nav a screen asked for, as the first
// of the messages update returns.
type (
	pushMsg    struct{ s screen }
	replaceMsg struct{ s screen }
	popMsg     struct{ result tea.Msg }
	popToMsg   struct {
		id     screenID
		result tea.Msg
	}
	quitMsg struct{}
)

// update hands msg to s and returns the navigation it asked for (as one
// of the messages above) followed by its command's messages.
func update(t *testing.T, s screen, msg tea.Msg) []tea.Msg {
	t.Helper()
	msgs := flatten(t, s.Update(msg))
	n := s.takeNav()
	if n == nil {
		return msgs
	}
	var nm tea.Msg
	switch n.kind {
	case navPush:
		nm = pushMsg{n.s}
	case navReplace:
		nm = replaceMsg{n.s}
	case navBack:
		nm = popMsg{n.result}
	case navBackTo:
		nm = popToMsg{n.to, n.result}
	case navQuit:
		nm = quitMsg{}
	}
	return append([]tea.Msg{nm}, msgs...)
}

// flatten runs cmd and returns its messages (batches opened), skipping
// bubbles' internal timers.
func flatten(t *testing.T, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	msg := runCmd(t, cmd)
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, flatten(t, c)...)
		}
		return out
	}
	if msg == nil || isInternal(msg) {
		return nil
	}
	return []tea.Msg{msg}
}

var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// colourCodes lists the SGR colour parameters in s.
func colourCodes(s string) []string {
	var out []string
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		params := strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' })
		for i := 0; i < len(params); i++ {
			n, _ := strconv.Atoi(params[i])
			switch {
			case n == 38 || n == 48 || n == 58:
				out = append(out, m[0])
				i = len(params)
			case n >= 30 && n <= 37, n >= 40 && n <= 47, n >= 90 && n <= 97, n >= 100 && n <= 107:
				out = append(out, m[0])
			}
		}
	}
	return out
}

func TestResults_NoColourMeansNoColourCodes(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "an*")
	s.Update(batchMsg{tag: s.tag(), rows: anRows(), done: true})
	s.Update(keyPress("a"))
	if codes := colourCodes(s.View()); len(codes) > 0 {
		t.Fatalf("colour codes with NO_COLOR: %q", codes)
	}
	// And the rows still tell their state apart without colour.
	view := ansi.Strip(s.View())
	for _, want := range []string{boxOn + " " + glyphGroup, boxBlocked + " " + glyphUser} {
		if !strings.Contains(view, want) {
			t.Errorf("without colour, %q is missing:\n%s", want, view)
		}
	}
}

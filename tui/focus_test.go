package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// typeFast presses keys on the active screen as a quick typist does: each
// key arrives before the commands of the previous one have run (a d that
// waits has not fired yet); the commands run afterwards.
func typeFast(d *driver, keys ...string) {
	d.t.Helper()
	var cmds []tea.Cmd
	for _, k := range keys {
		_, cmd := d.m.Update(keyPress(k))
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		d.run(c)
	}
}

// cursorMarks counts the body's lines that carry the cursor mark (the
// title bar's breadcrumb separators aside).
func cursorMarks(d *driver) int {
	n := 0
	for _, l := range d.lines()[1:] {
		if strings.HasPrefix(l, glyphCursor+" ") || strings.Contains(l, " "+glyphCursor+" [") || strings.Contains(l, "  "+glyphCursor+" ") {
			n++
		}
	}
	return n
}

func TestResults_TypingANameOnTheListTicksNothingAndOpensNothing(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	if s.focus != focusResults {
		t.Fatalf("after the search the focus is %v", s.focus)
	}
	// One row ticked; then the person, believing the box has the focus,
	// types a new name.
	moveTo(t, s.list.results, "anisha")
	d.keys("space")
	typeFast(d, "a", "n", "d", "b")
	if _, ok := s.list.results.selected["uuid-anisha"]; !ok || len(s.list.results.selected) != 1 {
		t.Errorf("typing andb changed the ticks: %v, want anisha's alone", s.list.results.selected)
	}
	if _, ok := d.active().(*searchScreen); !ok {
		t.Fatalf("typing andb opened %T", d.active())
	}
	if s.focus != focusSearchBox || s.list.box.Value() != "andb" {
		t.Fatalf("focus %v, box %q: want the box, holding andb", s.focus, s.list.box.Value())
	}
	d.keys("enter")
	d.mustShow(`Found 1 search result for "andb"`)

	// d first: it waits, and the letters after it make it a name.
	moveTo(t, s.list.results, "andbal")
	d.keys("tab")
	s.list.box.SetValue("an*")
	d.keys("enter")
	moveTo(t, s.list.results, "andarm") // a row to synchronize: d would open its differences
	typeFast(d, "d", "a", "n")
	if _, ok := d.active().(*searchScreen); !ok || s.list.box.Value() != "dan" || len(s.list.results.selected) != 0 {
		t.Fatalf("typing dan: %T, box %q, %d ticked", d.active(), s.list.box.Value(), len(s.list.results.selected))
	}

	// Movement letters are put back too: k (up) then e is "ke…".
	s.list.box.SetValue("an*") // the box has the focus: search again
	d.keys("enter")
	moveTo(t, s.list.results, "andbal")
	before := s.list.results.t.Cursor()
	typeFast(d, "k", "e", "v")
	if s.list.results.t.Cursor() != before || s.list.box.Value() != "kev" {
		t.Fatalf("typing kev: cursor %d (was %d), box %q", s.list.results.t.Cursor(), before, s.list.box.Value())
	}
}

func TestResults_ListKeysStillActWhenNothingIsTyped(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	d.keys("a")
	if len(s.list.results.selected) != 5 {
		t.Fatalf("a ticked %d rows, want the 5 selectable ones", len(s.list.results.selected))
	}
	// A deliberate a, then a letter much later: the ticks stay.
	clock := time.Now()
	s.list.ahead.now = func() time.Time { return clock }
	d.keys("a", "a")
	clock = clock.Add(2 * typingWindow)
	d.keys("x")
	if len(s.list.results.selected) != 5 || s.list.box.Value() != "x" {
		t.Fatalf("a letter long after a: %d ticked, box %q", len(s.list.results.selected), s.list.box.Value())
	}
	// d alone opens the differences once it has waited.
	s.list.box.SetValue("an*") // the box has the focus: search again
	d.keys("enter")
	moveTo(t, s.list.results, "andarm")
	d.keys("d")
	if _, ok := d.active().(*diffScreen); !ok {
		t.Fatalf("d on a row to synchronize opened %T", d.active())
	}
}

func TestResults_FocusIsUnmistakable(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	lines := d.lines()
	if !strings.HasPrefix(lines[1], "  Search: an*") || !strings.Contains(lines[2], "Keys act on the list below") {
		t.Errorf("with the list focused, the box must not look focused:\n%s", d.screen())
	}
	if cursorMarks(d) != 1 {
		t.Errorf("the focused list shows %d cursors:\n%s", cursorMarks(d), d.screen())
	}
	d.keys("tab")
	lines = d.lines()
	if !strings.HasPrefix(lines[1], glyphCursor+" Search: an*") || strings.Contains(lines[2], "Keys act on the list") {
		t.Errorf("with the box focused, it must say so:\n%s", d.screen())
	}
	if cursorMarks(d) != 1 {
		t.Errorf("with the box focused, %d cursor marks (want only the box's):\n%s", cursorMarks(d), d.screen())
	}
	_ = s
}

func TestEntraGroups_TypingOnTheListSearchesAndTicksNothing(t *testing.T) {
	m := newTenant()
	d, g := chooser(t, entraStore(t), m)
	typeFast(d, "a", "s", "d")
	if len(g.sess.selected) != 0 {
		t.Errorf("typing asd ticked %d groups", len(g.sess.selected))
	}
	if g.focus != chooseSearch || g.list.box.Value() != "asd" {
		t.Fatalf("focus %v, box %q", g.focus, g.list.box.Value())
	}
	d.keys("esc") // clear the search: the list again
	typeFast(d, "s", "a", "l")
	d.mustShow(`Found 2 groups matching "sal"`)
	if len(g.sess.selected) != 0 {
		t.Errorf("typing sal ticked %d groups", len(g.sess.selected))
	}
}

// TestEntraGroups_OneCursorAfterTabToTheOptions: with the options focused,
// the list shows no cursor.
func TestEntraGroups_OneCursorAfterTabToTheOptions(t *testing.T) {
	d, g := chooser(t, entraStore(t), newTenant())
	if cursorMarks(d) != 1 {
		t.Fatalf("the list shows %d cursors:\n%s", cursorMarks(d), d.screen())
	}
	d.keys("tab")
	if g.focus != chooseOptions {
		t.Fatalf("Tab: focus %v", g.focus)
	}
	if n := cursorMarks(d); n != 1 {
		t.Fatalf("after Tab to the options, %d cursors:\n%s", n, d.screen())
	}
	if !strings.Contains(d.screen(), glyphCursor+" "+boxOn+" Add new users") {
		t.Fatalf("the cursor is not on the options:\n%s", d.screen())
	}
	d.keys("tab") // the search box
	if n := cursorMarks(d); n != 1 {
		t.Fatalf("with the search box focused, %d cursors:\n%s", n, d.screen())
	}
}

// A name that starts with q or ? typed on a list is a search, not a way
// out: q and ? wait for more letters there; alone, they act.
func TestLists_QAndQuestionMarkTypedFirstStartANameAloneTheyAct(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	typeFast(d, "q", "u", "i")
	if d.quit {
		t.Fatal("typing qui on the results quit the app")
	}
	if s.focus != focusSearchBox || s.list.box.Value() != "qui" {
		t.Fatalf("focus %v, box %q: want the box, holding qui", s.focus, s.list.box.Value())
	}
	typeFast(d, "tab")
	typeFast(d, "?", "x")
	if d.m.help.ShowAll || s.list.box.Value() != "?x" {
		t.Fatalf("typing ?x on the list: full help %v, box %q", d.m.help.ShowAll, s.list.box.Value())
	}
	// Alone, after the pause, ? shows the help and q quits.
	typeFast(d, "tab")
	d.keys("?")
	if !d.m.help.ShowAll {
		t.Fatal("? alone on the list did not show the help")
	}
	d.keys("q")
	if !d.quit {
		t.Fatal("q alone on the list did not quit")
	}

	st, m := entraStore(t), newTenant()
	d, g := chooser(t, st, m)
	typeFast(d, "q", "u")
	if d.quit || g.focus != chooseSearch || g.list.box.Value() != "qu" {
		t.Fatalf("typing qu on the Entra groups: quit %v, focus %v, box %q", d.quit, g.focus, g.list.box.Value())
	}
	// On the options line too: typing there searches.
	d.keys("tab", "tab")
	if g.focus != chooseOptions {
		t.Fatalf("two Tabs from the box: focus %v, want the options", g.focus)
	}
	typeFast(d, "q", "u")
	if d.quit || g.focus != chooseSearch || g.list.box.Value() != "qu" {
		t.Fatalf("typing qu on the Entra options: quit %v, focus %v, box %q", d.quit, g.focus, g.list.box.Value())
	}
	d.keys("tab")
	d.keys("q")
	if !d.quit {
		t.Fatal("q alone on the Entra groups did not quit")
	}
}

package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/store"
)

// fateRows are one row of every fate, a user disabled in the directory, a
// group, and names with wide characters.
func fateRows() []resultRow {
	disabled := user("angnov", "Angela Novak", "angnov@example.org")
	disabled.Disabled = true
	unchecked := user("unchk", "Not Checked", "u@example.org")
	wide := user("yamada", "山田太郎", "yamada@example.org")
	wideName := user("李小龙", "Bruce Lee", "bruce@example.org")
	g := group("Analysis")
	g.MemberCount = 6
	return []resultRow{
		row(user("andbal", "Andrea Baldwin", "andbal@example.org"), store.StateNew, ""),
		row(user("andarm", "Andrew Armstrong", "andarm@example.org"), store.StateImported, ""),
		row(user("AAndrei", "Adrian Andrei", "a@example.org"), store.StateBlockedInternal, store.ReasonInternal),
		row(user("anders", "Anders Berg", "anders@example.org"), store.StateBlockedSource, "Username already taken by a user from dc02"),
		row(user("bad\u202e", "Spoof", "s@example.org"), store.StateInvalid, `username "bad\u202e" is not allowed`),
		{e: unchecked},
		row(disabled, store.StateNew, ""),
		row(g, store.StateImported, ""),
		row(wide, store.StateNew, ""),
		row(wideName, store.StateNew, ""),
	}
}

// cellOf is the cell (column) at which sub starts in line, or -1.
func cellOf(line, sub string) int {
	i := strings.Index(line, sub)
	if i < 0 {
		return -1
	}
	return ansi.StringWidth(line[:i])
}

func TestResults_EachFateHasItsGlyphReadableWithoutColour(t *testing.T) {
	s, _ := newTestSearch(t) // NO_COLOR styles
	startSearch(t, s, "*")
	s.Update(batchMsg{tag: s.tag(), rows: fateRows(), done: true})
	lines := strings.Split(ansi.Strip(s.View()), "\n")
	gutter := map[string]string{}
	for _, want := range []struct{ name, glyph string }{
		{"andbal", glyphImport}, {"andarm", glyphSync}, {"AAndrei", glyphBlocked}, {"anders", glyphBlocked},
		{`bad\u202e`, glyphInvalid}, {"unchk", glyphUnchecked}, {"angnov", glyphImport}, {"Analysis", glyphSync},
	} {
		l := rowsWith(strings.Join(lines, "\n"), want.name+" ")
		if len(l) != 1 {
			t.Fatalf("%d rows for %s", len(l), want.name)
		}
		if !strings.HasPrefix(l[0], want.glyph+" ") {
			t.Errorf("%s's row starts %q, want the glyph %q", want.name, l[0][:8], want.glyph)
		}
		gutter[want.name] = want.glyph
	}
	distinct := map[string]bool{glyphImport: true, glyphSync: true, glyphBlocked: true, glyphInvalid: true, glyphUnchecked: true}
	if len(distinct) != 5 {
		t.Fatal("two fates share a glyph")
	}
	view := strings.Join(lines, "\n")
	if !strings.Contains(view, glyphUserDisabled+" angnov") || !strings.Contains(view, glyphGroup+" Analysis") || !strings.Contains(view, glyphUser+" andbal") {
		t.Errorf("the kind glyphs (user, user disabled in the directory, group) are missing:\n%s", view)
	}
	// The legend names every glyph.
	legend := lines[len(lines)-1]
	for _, want := range []string{glyphImport + " import", glyphSync + " sync", glyphBlocked + " blocked", glyphInvalid + " invalid", glyphUser + " user", glyphUserDisabled + " disabled", glyphGroup + " group"} {
		if !strings.Contains(legend, want) {
			t.Errorf("the legend %q lacks %q", legend, want)
		}
	}
}

func TestResults_FatesHaveTheirOwnColours(t *testing.T) {
	s, sh := newTestSearch(t)
	sh.st.set(true, false) // colours on
	startSearch(t, s, "*")
	s.Update(batchMsg{tag: s.tag(), rows: fateRows(), done: true})
	s.focusOn(focusSearchBox) // no row highlighted: each keeps its colours
	colours := map[string]string{}
	for _, l := range strings.Split(s.View(), "\n") {
		plain := ansi.Strip(l)
		for _, g := range []string{glyphImport, glyphSync, glyphBlocked, glyphInvalid} {
			if strings.HasPrefix(plain, g+" ") {
				colours[g] = strings.Join(colourCodes(l[:strings.Index(l, g)+len(g)]), "")
			}
		}
	}
	seen := map[string]string{}
	for g, c := range colours {
		if c == "" {
			t.Errorf("%s has no colour", g)
		}
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s have the same colour %q", g, other, c)
		}
		seen[c] = g
	}
	if len(colours) != 4 {
		t.Fatalf("found the colours of %d fates", len(colours))
	}
}

func TestResults_ColumnsLineUpWithWideCharactersAndWhileScrolling(t *testing.T) {
	s, _ := newTestSearch(t)
	startSearch(t, s, "*")
	rows := fateRows()
	for i := range 40 {
		rows = append(rows, row(user(fmt.Sprintf("u%02d", i), fmt.Sprintf("User %d", i), ""), store.StateNew, ""))
	}
	s.Update(batchMsg{tag: s.tag(), rows: rows, done: true})
	s.focusOn(focusResults)
	check := func(view string) (display, action int) {
		t.Helper()
		display, action = -1, -1
		seen := 0
		defer func() {
			if seen < 8 {
				t.Errorf("only %d rows checked:\n%s", seen, view)
			}
		}()
		for _, l := range strings.Split(view, "\n") {
			for _, r := range rows {
				name, disp := r.cells()
				if !strings.Contains(l, " "+name+" ") {
					continue
				}
				seen++
				if ansi.StringWidth(l) != 80 {
					t.Errorf("row %q is %d cells wide", l, ansi.StringWidth(l))
				}
				a := cellOf(l, r.action())
				if action >= 0 && a != action {
					t.Errorf("the action of %s starts at %d, others at %d:\n%s", r.e.Name, a, action, view)
				}
				action = a
				if disp == "" {
					continue
				}
				d := cellOf(l, disp)
				if display >= 0 && d != display {
					t.Errorf("the display name of %s starts at %d, others at %d:\n%s", r.e.Name, d, display, view)
				}
				display = d
			}
		}
		return display, action
	}
	d1, a1 := check(ansi.Strip(s.View()))
	if d1 < 0 || a1 < 0 {
		t.Fatalf("no columns found:\n%s", ansi.Strip(s.View()))
	}
	s.Update(keyPress("end"))
	d2, a2 := check(ansi.Strip(s.View()))
	if d2 != d1 || a2 != a1 {
		t.Errorf("scrolling moved the columns: display %d→%d, action %d→%d", d1, d2, a1, a2)
	}
}

package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// mustShowWayOut fails unless the help line shows how to get help and how
// to leave, uncut.
func mustShowWayOut(t *testing.T, d *driver, where string) {
	t.Helper()
	d.mustFit(80, 24)
	h := d.helpLine()
	typing := d.active().Typing()
	wantHelp, wantQuit := "? help", "q quit"
	if typing {
		wantHelp, wantQuit = "f1 help", "ctrl+c quit"
	}
	if !strings.Contains(h, wantHelp) || !strings.HasSuffix(strings.TrimRight(h, " "), wantQuit) {
		t.Errorf("%s: the help line does not end with %q and %q: %q", where, wantHelp, wantQuit, h)
	}
}

func TestHelp_EveryScreenShowsHowToGetHelpAndLeaveAt80x24(t *testing.T) {
	l := newDemoLab(t)
	d := newDriver(t, l.cfg, StartUsers)
	mustShowWayOut(t, d, "Users app")
	d.keys("/")
	mustShowWayOut(t, d, "Users app search")
	d.keys("esc", "enter")
	d.mustShow("User aandrei")
	mustShowWayOut(t, d, "user card")
	d.keys("esc", "4", "enter")
	d.mustShow("Group details: Analysis")
	mustShowWayOut(t, d, "group card")
	d.keys("m")
	mustShowWayOut(t, d, "group menu")
	d.keys("esc", "esc", "esc")

	d = newDriver(t, l.cfg, StartImport)
	mustShowWayOut(t, d, "servers")
	d.keys("enter")
	mustShowWayOut(t, d, "search box")
	d.typeText("an*")
	d.keys("enter")
	mustShowWayOut(t, d, "results")
	if !strings.Contains(d.helpLine(), "esc") {
		t.Errorf("the results' help line does not say how to go back: %q", d.helpLine())
	}
	d.keys("a", "enter")
	d.mustShow("Enable users after import")
	mustShowWayOut(t, d, "options")
	d.keys("end", "enter")
	d.mustShow("What will happen")
	mustShowWayOut(t, d, "summary")
}

func TestHelp_FullHelpWrapsInsteadOfDroppingColumns(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	d.keys("?")
	d.mustFit(80, 24)
	for _, want := range []string{"pgdn", "differences (synchronize rows)", "edit the search", "enter", "quit (q, ctrl+c)"} {
		d.mustShow(want)
	}
	for _, l := range d.lines()[1+s.height:] {
		if strings.Contains(l, "…") {
			t.Fatalf("the full help drops keys: %q\n%s", l, d.screen())
		}
	}
	// Narrower still, every column is there.
	d.send(tea.WindowSizeMsg{Width: 40, Height: 40})
	d.mustFit(40, 40)
	for _, want := range []string{"pgdn", "differences (synchronize", "edit the search", "quit (q, ctrl+c)"} {
		d.mustShow(want)
	}
}

func TestHelp_ResultsSayWhatEnterDoesOnTheRow(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	moveTo(t, s.list.results, "andarm")
	d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	if h := d.helpLine(); !strings.Contains(h, "enter differences") {
		t.Errorf("on a row to synchronize: %q", h)
	}
	moveTo(t, s.list.results, "andbal")
	d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	if h := d.helpLine(); !strings.Contains(h, "enter options (tick rows first)") {
		t.Errorf("on a new row: %q", h)
	}
	d.keys("space")
	if h := d.helpLine(); !strings.Contains(h, "enter options for the 1 ticked") {
		t.Errorf("with a row ticked: %q", h)
	}
}

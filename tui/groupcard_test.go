package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// openGroup opens the group card of name from the Users app's groups.
func openGroup(t *testing.T, d *driver, name string) *groupScreen {
	t.Helper()
	d.keys("4")
	u := d.active().(*usersScreen)
	for p, i := range u.groups.View() {
		if u.groups.Item(i).Name == name {
			u.groups.MoveTo(p)
		}
	}
	d.keys("enter")
	g, ok := d.active().(*groupScreen)
	if !ok || g.name != name {
		t.Fatalf("Enter opened %T", d.active())
	}
	return g
}

func TestGroupCard_InternalGroupDoesNotOfferSynchronize(t *testing.T) {
	l := newDemoLab(t)
	d := newDriver(t, l.cfg, StartUsers)
	d.send(tea.EnvMsg{"NO_COLOR=1"})
	openGroup(t, d, "Service Desk")
	d.mustShow("Group details: Service Desk")
	d.mustNotShow("[ Synchronize ]")
	d.mustNotShow(glyphBlocked + " Synchronize")
	if h := d.helpLine(); strings.Contains(h, "synchronize") || strings.Contains(h, "actions") {
		t.Errorf("the help offers what an internal group cannot do: %q", h)
	}
	d.keys("s")
	d.keys("m")
	if _, ok := d.active().(*groupScreen); !ok {
		t.Fatalf("s or m on an internal group opened %T", d.active())
	}
	d.mustShow("An internal group has no directory to synchronize from.")
	d.keys("esc")

	// The Users app's menu does not offer it either.
	d.keys("m")
	menu, ok := d.active().(*menuScreen)
	if !ok {
		t.Fatalf("m opened %T", d.active())
	}
	for _, it := range menu.items {
		if it.label == "Synchronize group" {
			t.Fatalf("the menu of %s offers Synchronize group", menu.title)
		}
	}
}

func TestGroupCard_DisabledSynchronizeLooksDisabledWithoutColour(t *testing.T) {
	l := newDemoLab(t)
	cfg := l.cfg
	cfg.ReadOnly = true
	d := newDriver(t, cfg, StartUsers)
	d.send(tea.EnvMsg{"NO_COLOR=1"})
	openGroup(t, d, "Analysis")
	d.mustShow(glyphBlocked + " Synchronize")
	d.mustNotShow("[ Synchronize ]")
	d.keys("m")
	d.mustShow(glyphBlocked + " Synchronize group — not available")
	d.keys("enter")
	d.mustShow("Read-only session: synchronizing is not allowed.")

	// Where it can be pressed, it is a button.
	d = newDriver(t, l.cfg, StartUsers)
	openGroup(t, d, "Analysis")
	d.mustShow("[ Synchronize ]")
	if h := d.helpLine(); !strings.Contains(h, "s synchronize") {
		t.Errorf("the help does not offer s on an external group: %q", h)
	}
}

package tui

import (
	"strings"
	"testing"

	"github.com/usersync/usersync/store"
)

// copyRoles opens to's card in the Users app, presses c, picks from and
// confirms; it returns the card.
func copyRoles(t *testing.T, d *driver, from, to string) *userScreen {
	t.Helper()
	for len(d.m.stack) > 1 {
		d.keys("esc")
	}
	users := d.active().(*usersScreen)
	found := false
	for p, i := range users.users.View() {
		if users.users.Item(i).Username == to {
			users.users.MoveTo(p)
			found = true
		}
	}
	if !found {
		t.Fatalf("no user %s", to)
	}
	d.keys("enter")
	card, ok := d.active().(*userScreen)
	if !ok {
		t.Fatalf("Enter opened %T", d.active())
	}
	d.keys("c")
	p, ok := d.active().(*userPicker)
	if !ok {
		t.Fatalf("c opened %T", d.active())
	}
	for pos, i := range p.t.View() {
		if p.t.Item(i).Username == from {
			p.t.MoveTo(pos)
		}
	}
	d.keys("enter")
	d.mustShow("Copy the roles and assignments of " + from + " to " + to + "? (y/N)")
	d.keys("y")
	return card
}

func ownRoles(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	u, err := st.GetUser(name)
	if err != nil {
		t.Fatal(err)
	}
	return store.FormatAssignments(u.Roles)
}

func TestUserCard_CopySaysWhatWasCopiedOrWhyNothingWas(t *testing.T) {
	l := newDemoLab(t)
	d := newDriver(t, l.cfg, StartUsers)

	// andarm holds Analyst through the group Analysis only.
	copyRoles(t, d, "andarm", "tkaur")
	d.mustShow("! Nothing copied: andarm holds no roles of their own; Analyst comes through")
	d.mustShow("group Analysis, which copying does not give.")
	d.mustNotShow("Copied")
	if got := ownRoles(t, l.st, "tkaur"); got != "" {
		t.Fatalf("tkaur holds %q after a copy of nothing", got)
	}

	// mlopez holds Editor and Viewer@project-x of her own.
	copyRoles(t, d, "mlopez", "tkaur")
	d.mustShow("Copied from mlopez to tkaur: Editor,Viewer@project-x.")
	if got := ownRoles(t, l.st, "tkaur"); got != "Editor,Viewer@project-x" {
		t.Fatalf("tkaur holds %q", got)
	}
	d.mustShow("Viewer           @ project-x          own") // the card shows them

	// Again: tkaur holds them all already.
	copyRoles(t, d, "mlopez", "tkaur")
	d.mustShow("! Nothing copied: tkaur already holds every role mlopez holds of their own")

	// tkaur's own roles now, and Helpdesk through Service Desk: the copy
	// to aandrei gives the own ones and says which it does not give.
	copyRoles(t, d, "tkaur", "aandrei")
	s := d.screen()
	for _, want := range []string{"Copied from tkaur to aandrei: Editor,Viewer@project-x.", "Not copied: Helpdesk comes through group Service Desk"} {
		if !strings.Contains(strings.Join(strings.Fields(s), " "), want) {
			t.Errorf("the card does not say %q:\n%s", want, s)
		}
	}
	d.mustFit(80, 24)
}

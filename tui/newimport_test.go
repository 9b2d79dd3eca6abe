package tui

import (
	"strings"
	"testing"

	"github.com/usersync/usersync/store"
)

// setEveryOption sets every option on the LDAP options screen: enable, the
// role Viewer, copy roles from mlopez.
func setEveryOption(t *testing.T, d *driver) {
	t.Helper()
	o, ok := d.active().(*optionsScreen)
	if !ok {
		t.Fatalf("not on the options: %T\n%s", d.active(), d.screen())
	}
	d.keys("space") // Enable users after import
	d.send(rolesChosenMsg{tag: o.tag(), roles: []store.Assignment{{Role: "Viewer", Scope: store.GlobalScope}}})
	d.send(userPickedMsg{tag: o.tag(), name: "mlopez"})
	for _, want := range []string{"[x] Enable users after import", "user/group: Viewer", "get the roles of: mlopez"} {
		d.mustShow(want)
	}
}

// mustShowDefaults fails unless the options screen shows the defaults.
func mustShowDefaults(t *testing.T, d *driver, when string) {
	t.Helper()
	if _, ok := d.active().(*optionsScreen); !ok {
		t.Fatalf("%s: not on the options: %T\n%s", when, d.active(), d.screen())
	}
	s := d.screen()
	for _, want := range []string{"[ ] Enable users after import", "user/group: none", "get the roles of: nobody"} {
		if !strings.Contains(s, want) {
			t.Errorf("%s: the options do not show %q: a previous import's choice carried over:\n%s", when, want, s)
		}
	}
}

func TestOptions_EscBackToTheOptionsKeepsTheChoices(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	moveTo(t, s.list.results, "andbal")
	d.keys("space", "enter")
	setEveryOption(t, d)
	d.keys("end", "enter")
	d.mustShow("What will happen")
	for _, want := range []string{"Enable after import  yes", "Roles for new        Viewer", "Copy roles from      mlopez"} {
		d.mustShow(want)
	}
	d.keys("esc") // back to the options: one thing to change
	for _, want := range []string{"[x] Enable users after import", "user/group: Viewer", "get the roles of: mlopez"} {
		d.mustShow(want)
	}
	d.keys("esc") // back to the results, tick one more, on again
	moveTo(t, s.list.results, "anisha")
	d.keys("space", "enter")
	d.mustShow("[x] Enable users after import")
}

func TestOptions_ANewSearchStartsFromTheDefaults(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	moveTo(t, s.list.results, "andbal")
	d.keys("space", "enter")
	setEveryOption(t, d)
	d.keys("esc", "tab") // the results, then the search box
	s.list.box.SetValue("")
	d.typeText("ang*")
	d.keys("enter")
	d.mustShow(`Found 1 search result for "ang*"`)
	d.keys("space", "enter")
	mustShowDefaults(t, d, "a new search")
	d.keys("end", "enter")
	d.mustShow("What will happen")
	d.mustNotShow("--roles")
	d.mustNotShow("--enable")
	d.mustNotShow("--copy-roles-from")
}

func TestOptions_TheNextImportStartsFromTheDefaults(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	moveTo(t, s.list.results, "andbal")
	d.keys("space", "enter")
	setEveryOption(t, d)
	d.keys("end", "enter", "enter") // the summary, then import
	d.mustShow("completed")
	d.keys("esc") // the report returns to the results, searched again
	if d.active() != screen(s) {
		t.Fatalf("the report returned to %T", d.active())
	}
	moveTo(t, s.list.results, "anisha")
	d.keys("space", "enter")
	mustShowDefaults(t, d, "the import after a run")

	// Opening the wizard again starts from the defaults too.
	d.keys("esc", "esc", "esc", "enter")
	d.typeText("an*")
	d.keys("enter")
	d.mustShow(`Found 6 search results`)
	d.keys("a", "enter")
	mustShowDefaults(t, d, "the wizard opened again")
}

func TestEntraOptions_TheNextImportStartsFromTheDefaults(t *testing.T) {
	st := entraStore(t)
	d, g := chooser(t, st, newTenant())
	toSummary(t, d, g, true, "Viewer")
	d.mustShow("--update-existing --roles Viewer")
	// Esc goes back to the groups to change one thing: the choices stay.
	d.keys("esc")
	d.mustShow("[x] Update previously imported users")
	d.keys("enter")
	if p, ok := d.active().(*rolePicker); !ok || len(p.chosen) != 1 {
		t.Fatalf("back on the roles, Viewer is not chosen any more: %T", d.active())
	}
	d.keys("enter") // the summary again
	d.keys("enter") // import
	d.mustShow("completed")
	d.keys("esc")
	if d.active() != screen(g) {
		t.Fatalf("the report returned to %T", d.active())
	}
	d.mustShow("[x] Add new users")
	d.mustShow("[ ] Update previously imported users")
	d.mustNotShow("Roles for new users: Viewer")
	tickGroup(t, d, g, "Marketing")
	d.keys("enter")
	p, ok := d.active().(*rolePicker)
	if !ok || len(p.chosen) != 0 {
		t.Fatalf("the next import's roles are not the defaults: %T %v", d.active(), p.chosen)
	}
	d.keys("enter")
	d.mustShow("What will happen")
	d.mustNotShow("--roles")
	d.mustNotShow("--update-existing")
}

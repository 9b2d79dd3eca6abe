package tui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// demoLab is the product's example without a directory server: dc01 is a
// memDir with the an* mix (a group and a user imported before, new users,
// one disabled in the directory, one an internal user's name), and a real
// store holding an earlier import of the group Analysis (andarm with an
// older email), internal users (aandrei, mlopez with roles of their own)
// and an internal group Service Desk.
type demoLab struct {
	st  *store.Store
	dir *labDir
	cfg Config
}

// labDir is a memDir whose search matches, as the demo's directory does,
// the start of the name or of any word of the display name (an* finds
// AAndrei, Adrian Andrei).
type labDir struct{ *memDir }

func (d *labDir) Search(ctx context.Context, query string, fn func(directory.Entry) error) error {
	prefix := strings.ToLower(strings.TrimSuffix(query, "*"))
	for _, e := range d.entries {
		hay := append([]string{e.Name}, strings.Fields(e.DisplayName)...)
		for _, w := range hay {
			if strings.HasPrefix(strings.ToLower(w), prefix) {
				if err := fn(e); err != nil {
					return err
				}
				break
			}
		}
	}
	return ctx.Err()
}

func newDemoLab(t *testing.T) *demoLab {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "users.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"Analyst", "Helpdesk"} {
		must(st.AddRole(store.Role{Name: r, Description: r + " role"}))
	}
	for _, u := range []store.User{
		{Username: "aandrei", DisplayName: "Andrei Aandrei", Email: "aandrei@example.com", Enabled: true,
			Roles: []store.Assignment{{Role: "Administrator", Scope: store.GlobalScope}}},
		{Username: "mlopez", DisplayName: "María López", Email: "mlopez@example.com", Enabled: true,
			Roles: []store.Assignment{{Role: "Editor", Scope: store.GlobalScope}, {Role: "Viewer", Scope: "project-x"}}},
		{Username: "tkaur", DisplayName: "Tara Kaur", Email: "tkaur@example.com", Enabled: true},
	} {
		_, err := st.AddUser(u)
		must(err)
	}
	_, err = st.AddGroup(store.Group{Name: "Service Desk", Roles: []store.Assignment{{Role: "Helpdesk", Scope: store.GlobalScope}}})
	must(err)
	must(st.AddMember("Service Desk", "tkaur"))

	andarm := user("andarm", "Andrew Armstrong", "andarm@corp.example")
	anisha := user("anisha", "Anika Sharma", "anisha@corp.example")
	angnov := user("angnov", "Angela Novak", "angnov@corp.example")
	angnov.Disabled = true
	analysis := group("Analysis")
	analysis.MemberCount = 2
	dir := &labDir{&memDir{name: "dc01", entries: []directory.Entry{
		analysis, andarm, anisha,
		user("andbal", "Andrea Baldwin", "andbal@corp.example"),
		user("AAndrei", "Adrian Andrei", "adrian.andrei@corp.example"),
		angnov,
	}, groups: map[string]*directory.GroupRead{
		analysis.ExternalID: {Group: analysis, Members: []directory.Entry{andarm, anisha}},
	}}}

	// The earlier import saw andarm with an older email.
	old := andarm
	old.Email = "andrew.armstrong@corp.example"
	req := importer.LDAP{Server: "dc01", Query: "Analysis", Select: importer.Names{"Analysis"},
		Roles: importer.Assignments{{Role: "Analyst", Scope: store.GlobalScope}}, Enable: true}
	in := store.Input{Source: "dc01", Actor: "seed", Command: req.CommandLine(), Options: req.Options(),
		Groups: []store.GroupInput{{Read: &directory.GroupRead{Group: analysis, Members: []directory.Entry{old, anisha}}}}}
	run, err := st.Apply(context.Background(), in, nil)
	must(err)
	if run.Status != store.RunCompleted {
		t.Fatalf("seeding: run %s: %s", run.Status, run.Error)
	}
	l := &demoLab{st: st, dir: dir}
	l.cfg = wizardConfig(nil, nil)
	l.cfg.Open = func(context.Context, string, string) (directory.Directory, error) { return dir, nil }
	l.cfg.Store = st
	return l
}

// results opens the wizard on dc01 and searches for an*.
func (l *demoLab) results(t *testing.T) (*driver, *searchScreen) {
	t.Helper()
	d := newDriver(t, l.cfg, StartImport)
	d.keys("enter")
	s, ok := d.active().(*searchScreen)
	if !ok {
		t.Fatalf("dc01 did not open the search: %T\n%s", d.active(), d.screen())
	}
	d.typeText("an*")
	d.keys("enter")
	d.mustShow(`Found 6 search results for "an*"`)
	return d, s
}

// moveTo puts the results' cursor on the row named name.
func moveTo(t *testing.T, r *results, name string) {
	t.Helper()
	for p, i := range r.t.View() {
		if r.t.Item(i).e.Name == name {
			r.t.MoveTo(p)
			return
		}
	}
	t.Fatalf("no row %q", name)
}

// lines returns the screen's lines.
func (d *driver) lines() []string { return strings.Split(d.screen(), "\n") }

// helpLine is the screen's last line: the short help.
func (d *driver) helpLine() string {
	l := d.lines()
	return l[len(l)-1]
}

// mustFit fails unless the screen is exactly w x h cells at most.
func (d *driver) mustFit(w, h int) {
	d.t.Helper()
	l := d.lines()
	if len(l) != h {
		d.t.Fatalf("%d lines, want %d:\n%s", len(l), h, d.screen())
	}
	for _, line := range l {
		if ansi.StringWidth(line) > w {
			d.t.Fatalf("a line is wider than %d: %q", w, line)
		}
	}
}

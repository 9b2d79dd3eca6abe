package tui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest/v2"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// The end-to-end flows: the whole app in a tea.Program (teatest), a real
// slapd read through the real LDAP adapter, a real store in a temp dir.

// lab is a slapd with the product's "an*" example, a store that already
// knows some of it, and the app's configuration.
type lab struct {
	srv     *slapdtest.Server
	st      *store.Store
	cfg     Config
	ldapCfg ldap.Config
	dir     string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	slapdtest.Require(t)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	andarm := data.AddUser(slapdtest.User{UID: "andarm", CN: "Andrew Armstrong", Mail: "andarm@example.com"})
	andbal := data.AddUser(slapdtest.User{UID: "andbal", CN: "Andrea Ball", Mail: "andbal@example.com"})
	data.AddUser(slapdtest.User{UID: "aandrei", CN: "Andrei Aa", GivenName: "Andrei", Mail: "aandrei@example.com"})
	data.AddUser(slapdtest.User{UID: "anders", CN: "Anders Berg", Mail: "anders@example.com"})
	data.AddUser(slapdtest.User{UID: "annie", CN: "Annie Lock", Attrs: map[string][]string{"employeeType": {"TRUE"}}})
	bob := data.AddUser(slapdtest.User{UID: "bob", CN: "Bob Stone", Mail: "bob@example.com"})
	data.AddGroup(slapdtest.Group{CN: "Analysis", Members: []string{andarm, bob}})
	data.AddGroup(slapdtest.Group{CN: "Sales", Members: []string{andbal}})
	srv := slapdtest.Start(t, slapdtest.Options{Data: data})

	l := &lab{srv: srv, dir: t.TempDir()}
	l.ldapCfg = srv.Config()
	l.ldapCfg.Name = "dc01"
	l.ldapCfg.Attributes.Disabled = "employeeType"
	st, err := store.Open(filepath.Join(l.dir, "users.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l.st = st
	l.cfg = Config{
		Store: st,
		Sources: []Source{
			{Name: "dc01", Kind: directory.KindLDAP, URL: srv.URL},
			{Name: "contoso", Kind: directory.KindEntra, URL: "https://graph.microsoft.com"},
		},
		Open: func(ctx context.Context, name, password string) (directory.Directory, error) {
			return ldap.Open(ctx, l.ldapCfg)
		},
		Actor: "tester",
	}
	l.seed(t)
	return l
}

// seed gives the store an internal aandrei (blocks the directory's), the
// group Analysis (with andarm and bob) imported before, an anders from
// another directory, and a mentor whose roles can be copied.
func (l *lab) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := l.st.AddUser(store.User{Username: "aandrei", DisplayName: "Andrei (internal)", Email: "aandrei@corp.example", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	roles, err := l.st.ListRoles()
	if err != nil || len(roles) < 2 {
		t.Fatalf("a new store has roles %v (%v)", roles, err)
	}
	if _, err := l.st.AddUser(store.User{Username: "mentor", DisplayName: "Mentor", Email: "mentor@corp.example", Enabled: true,
		Roles: []store.Assignment{{Role: roles[0].Name, Scope: "project-x"}}}); err != nil {
		t.Fatal(err)
	}
	dir, err := ldap.Open(ctx, l.ldapCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	var found []directory.Entry
	if err := dir.Search(ctx, "Analysis", func(e directory.Entry) error { found = append(found, e); return nil }); err != nil || len(found) != 1 {
		t.Fatalf("search Analysis: %v %v", found, err)
	}
	gi, err := importer.ReadGroup(ctx, l.st, dir, found[0].ExternalID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.st.Apply(ctx, store.Input{Source: "dc01", Actor: "seed", Command: "seed", Groups: []store.GroupInput{gi},
		Options: store.Options{AddNew: true, UpdateExisting: true, Enable: true}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.st.Assign("Analysis", store.Assignment{Role: roles[1].Name, Scope: store.GlobalScope}); err != nil {
		t.Fatal(err)
	}
	other := directory.Entry{Type: directory.TypeUser, ExternalID: "dc02-anders", Name: "anders", DisplayName: "Anders (dc02)", Email: "anders@dc02.example", DN: "uid=anders,dc=dc02"}
	if _, err := l.st.Apply(ctx, store.Input{Source: "dc02", Actor: "seed", Command: "seed", Users: []directory.Entry{other},
		Options: store.Options{AddNew: true, UpdateExisting: true}}, nil); err != nil {
		t.Fatal(err)
	}
}

// modify changes attributes of dn in slapd (as its root).
func (l *lab) modify(t *testing.T, dn string, replace map[string][]string, del ...string) {
	t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	for k, v := range replace {
		req.Replace(k, v)
	}
	for _, k := range del {
		req.Delete(k, nil)
	}
	if err := l.srv.Conn(t).Modify(req); err != nil {
		t.Fatalf("modify %s: %v", dn, err)
	}
}

func TestFlow_LDAPImportWizard(t *testing.T) {
	l := newLab(t)
	// andarm's mail changed in the directory since the import: the
	// synchronize row has a difference to show.
	l.modify(t, "uid=andarm,ou=people,"+slapdtest.DefaultSuffix, map[string][]string{"mail": {"andrew.armstrong@example.com"}})

	f := startFlow(t, l.cfg, StartImport)
	f.waitFor("Pick a directory", "dc01", "contoso")
	f.golden("01-servers")

	f.keys("enter")
	f.waitFor("Search by username or group name")
	f.typeText("(bad")
	f.keys("enter")
	f.waitFor("invalid LDAP filter")
	f.golden("02-bad-filter")

	for range 4 {
		f.keys("backspace")
	}
	f.typeText("an*")
	f.keys("enter")
	f.waitFor(`Found 6 search results for "an*"`)
	f.golden("03-results")

	// The results have the focus, the cursor on andarm (imported before).
	f.keys("d")
	f.waitFor("andrew.armstrong@example.com")
	f.golden("04-difference")
	f.keys("esc")
	f.waitFor(`Found 6 search results for "an*"`)

	f.keys("a")
	f.waitFor("4 selected")
	f.keys("enter")
	f.waitFor("Enable users after import")
	f.keys("space", "down", "enter")
	f.waitFor("Role assignments: the roles new users and groups get", "Administrator") // the roles are loaded
	f.keys("space", "enter")
	// The picker's answer reaches the options after the picker closed.
	f.waitFor("Continue to the summary", "Assign roles to the user/group: Administrator")
	f.golden("05-options")

	f.keys("end", "enter")
	f.waitFor("What will happen", "usersync import ldap")
	f.golden("06-summary")

	f.keys("enter")
	f.waitFor("Run 3: completed")
	f.golden("07-report")

	path := filepath.Join(l.dir, "run.json")
	f.keys("s")
	f.waitFor("Save as:")
	for range len("usersync-run-3.json") {
		f.keys("backspace")
	}
	f.typeText(path)
	f.keys("enter")
	f.waitFor("Saved the report to")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	journaled, err := l.st.GetRun(3)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := journaled.JSONLine()
	if got := data; !bytes.Equal(got, want) {
		t.Fatalf("the saved report is not the journaled run:\n%s\nwant:\n%s", got, want)
	}

	f.keys("esc")
	f.waitFor(`Found 6 search results for "an*"`, "Run 3 completed.")
	f.golden("08-after-import")

	// The store holds what the wizard imported.
	u, err := l.st.GetUser("andbal")
	if err != nil || u.Kind != store.External || u.Source != "dc01" || !u.Enabled {
		t.Fatalf("andbal after import: %+v %v", u, err)
	}
	internal, err := l.st.GetUser("aandrei")
	if err != nil || internal.Kind != store.Internal || internal.Email != "aandrei@corp.example" {
		t.Fatalf("the internal aandrei was touched: %+v %v", internal, err)
	}
	f.keys("q")
	f.tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

func TestFlow_UsersAppGroupSync(t *testing.T) {
	l := newLab(t)
	f := startFlow(t, l.cfg, StartUsers)
	f.waitFor("All users", "aandrei", "mentor")
	f.golden("01-users")

	f.keys("3")
	f.waitFor("external · dc01")
	f.mustNotShow("mentor")

	f.keys("4")
	f.waitFor("Analysis", "MEMBERS")
	f.golden("02-groups")

	f.keys("enter")
	f.waitFor("Group details: Analysis", "[ Synchronize ]", "bob")
	f.golden("03-group-card")

	// bob leaves Analysis in the directory: a sync removes him, which is
	// more than the threshold allows in a group of two.
	l.modify(t, "cn=Analysis,ou=groups,"+slapdtest.DefaultSuffix, map[string][]string{"member": {"uid=andarm,ou=people," + slapdtest.DefaultSuffix}})
	f.keys("m")
	f.waitFor("Synchronize group")
	f.keys("enter")
	f.waitFor("Apply it anyway? (y/N)")
	f.golden("04-threshold")
	f.keys("y")
	f.waitFor(": completed", "Removed from groups (1)", "bob")
	f.golden("05-sync-report")
	f.keys("esc")
	f.waitFor("Group details: Analysis", "Members (1)")

	// andarm holds the group's role through membership.
	f.keys("enter")
	f.waitFor("User andarm", "via group Analysis")
	f.golden("06-user-card")
	f.keys("c")
	f.waitFor("Copy roles and assignments to andarm from which user?")
	f.keys("/")
	f.typeText("ment")
	f.keys("enter")
	f.waitFor("Filter: ment  (1 of 4)") // filtered in a command: wait for it
	f.keys("enter")
	f.waitFor("Copy the roles and assignments of mentor to andarm? (y/N)")
	f.keys("y")
	f.waitFor("Copied from mentor to andarm:", "project-x")
	f.keys("q")
	f.tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

package tui

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// The Entra screens' rules, against a small in-test tenant (memTenant)
// and a real store. The real Graph path — msgraph-sdk-go, azidentity and
// the device-code flow against graphtest — is covered end to end by
// cmd/usersync's TestTUI_Entra* (this package must not import
// directory/entra).

// memTenant is an Entra tenant for screen tests: groups listed with a
// Graph-like word-prefix search, members read from memDir, a device-code
// sign-in approved through approve.
type memTenant struct {
	*memDir
	groups []directory.Entry

	mu       sync.Mutex
	searches []string
	hooks    EntraHooks
	signIns  int
	// signInErr fails the next sign-ins, until it is cleared.
	signInErr error
	// approve, when set, is waited on by a sign-in after its prompt (nil:
	// approved at once).
	approve chan struct{}
	// cancelled receives the sign-in context's error when it is cancelled.
	cancelled chan error
	// throttle, when set, is reported through the hooks by every group read.
	throttle time.Duration
	// listGate, when set, is waited on before each listed group.
	listGate chan struct{}
}

const testDeviceURL = "https://microsoft.com/devicelogin"
const testUserCode = "F7KQ2XHM9"

func (m *memTenant) Kind() directory.Kind { return directory.KindEntra }

func (m *memTenant) ListGroups(ctx context.Context, search string, fn func(directory.Entry) error) error {
	m.mu.Lock()
	m.searches = append(m.searches, search)
	gate := m.listGate
	m.mu.Unlock()
	q := strings.ToLower(strings.TrimSpace(search))
	for _, g := range m.groups {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		match := q == ""
		for _, w := range strings.Fields(strings.ToLower(g.Name)) {
			if strings.HasPrefix(w, q) {
				match = true
			}
		}
		if !match {
			continue
		}
		if err := fn(g); err != nil {
			return err
		}
	}
	return nil
}

func (m *memTenant) ReadGroup(ctx context.Context, id string) (*directory.GroupRead, error) {
	m.mu.Lock()
	th, hooks := m.throttle, m.hooks
	m.mu.Unlock()
	if th > 0 && hooks.Throttled != nil {
		hooks.Throttled(th)
	}
	return m.memDir.ReadGroup(ctx, id)
}

func (m *memTenant) searched() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.searches...)
}

// open is Config.OpenEntra for the tenant.
func (m *memTenant) open(ctx context.Context, name string, hooks EntraHooks) (GroupSource, error) {
	m.mu.Lock()
	m.hooks = hooks
	m.signIns++
	err, approve := m.signInErr, m.approve
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	hooks.Prompt(DeviceCode{URL: testDeviceURL, Code: testUserCode,
		Message: "To sign in, use a web browser to open the page " + testDeviceURL + " and enter the code " + testUserCode + " to authenticate."})
	if approve != nil {
		select {
		case <-approve:
		case <-ctx.Done():
			if m.cancelled != nil {
				m.cancelled <- ctx.Err()
			}
			return nil, ctx.Err()
		}
	}
	return m, nil
}

func entraUser(name, display, email string) directory.Entry {
	return directory.Entry{Type: directory.TypeUser, ExternalID: "oid-" + name, Name: name, DisplayName: display, Email: email, DN: name + "@contoso.com"}
}

func entraGroup(name string, members ...directory.Entry) (directory.Entry, *directory.GroupRead) {
	e := directory.Entry{Type: directory.TypeGroup, ExternalID: "gid-" + strings.ReplaceAll(strings.ToLower(name), " ", "-"), Name: name, DisplayName: name, MemberCount: len(members)}
	return e, &directory.GroupRead{Group: e, Members: members}
}

// newTenant is contoso for screen tests: Sales (amy, bob, cara — whose
// email an internal user of the store has —, dan disabled, eve without
// email), Sales EMEA, Marketing and Engineering.
func newTenant() *memTenant {
	amy := entraUser("amy", "Amy Adams", "amy@contoso.com")
	bob := entraUser("bob", "Bob Brown", "bob@contoso.com")
	cara := entraUser("cara", "Cara Cruz", "Cara.Cruz@Contoso.com")
	dan := entraUser("dan", "Dan Dorn", "dan@contoso.com")
	dan.Disabled = true
	eve := entraUser("eve", "Eve Easton", "")
	frank := entraUser("frank", "Frank Fox", "frank@contoso.com")
	m := &memTenant{memDir: &memDir{name: "contoso", groups: map[string]*directory.GroupRead{}}}
	for _, g := range []struct {
		name    string
		members []directory.Entry
	}{
		{"Engineering", []directory.Entry{frank}},
		{"Marketing", []directory.Entry{amy}},
		{"Sales", []directory.Entry{amy, bob, cara, dan, eve}},
		{"Sales EMEA", []directory.Entry{bob}},
	} {
		e, read := entraGroup(g.name, g.members...)
		m.groups = append(m.groups, e)
		m.memDir.groups[e.ExternalID] = read
	}
	return m
}

// entraStore is a real store with an internal user cara.internal whose
// email is Sales' cara's (another case).
func entraStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "users.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddUser(store.User{Username: "cara.internal", DisplayName: "Cara (internal)", Email: "cara.cruz@contoso.com", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	return st
}

func entraTestConfig(st *store.Store, m *memTenant) Config {
	return Config{
		Store:   st,
		Sources: []Source{{Name: "dc01", Kind: directory.KindLDAP, URL: "ldaps://dc01.corp.example:636"}, {Name: "contoso", Kind: directory.KindEntra, URL: "https://graph.microsoft.com"}},
		Open: func(context.Context, string, string) (directory.Directory, error) {
			return nil, errors.New("no LDAP here")
		},
		OpenEntra: m.open,
		Actor:     "tester",
	}
}

// chooser signs in (approved at once) and returns the driver on the group
// chooser.
func chooser(t *testing.T, st *store.Store, m *memTenant) (*driver, *entraGroupsScreen) {
	t.Helper()
	d := newDriver(t, entraTestConfig(st, m), StartImport)
	d.keys("end", "enter")
	g, ok := d.active().(*entraGroupsScreen)
	if !ok {
		t.Fatalf("the tenant did not open the group chooser: %T\n%s", d.active(), d.screen())
	}
	return d, g
}

// tickGroup moves the cursor to the group named name and ticks it.
func tickGroup(t *testing.T, d *driver, g *entraGroupsScreen, name string) {
	t.Helper()
	for p, i := range g.list.results.t.View() {
		if g.list.results.t.Item(i).e.Name == name {
			g.list.results.t.MoveTo(p)
			d.keys("space")
			return
		}
	}
	t.Fatalf("no row %q:\n%s", name, d.screen())
}

func TestEntraServers_TenantOpensTheSignIn(t *testing.T) {
	m := newTenant()
	m.approve = make(chan struct{}) // never approved here
	sh := testShared(entraTestConfig(entraStore(t), m))
	s := newServersScreen(sh)
	s.SetSize(80, 22)
	s.t.MoveTo(1)
	msgs := update(t, s, keyPress("enter"))
	if !pushes[*signInScreen](msgs) {
		t.Fatalf("Enter on an Entra tenant did not open the sign-in: %v", msgs)
	}
	if strings.Contains(ansi.Strip(s.View()), "coming soon") {
		t.Fatalf("the tenant is still coming soon:\n%s", ansi.Strip(s.View()))
	}
}

func TestEntraSignIn_ShowsTheAddressAndTheCodeWhileWaiting(t *testing.T) {
	m := newTenant()
	sh := testShared(entraTestConfig(entraStore(t), m))
	s := newSignInScreen(sh, Source{Name: "contoso", Kind: directory.KindEntra})
	s.SetSize(80, 22)
	s.Init() // the sign-in command is not run: the test plays the hooks
	if !strings.Contains(ansi.Strip(s.View()), "Signing in to contoso…") {
		t.Fatalf("no waiting line before the prompt:\n%s", ansi.Strip(s.View()))
	}
	// The hook runs on the adapter's goroutine: it only records.
	go s.ev.hooks().Prompt(DeviceCode{URL: testDeviceURL, Code: testUserCode})
	msg := runCmd(t, s.ev.listen(s.ctx, s.tag(), 0))
	s.Update(msg)
	view := ansi.Strip(s.View())
	for _, want := range []string{testDeviceURL, testUserCode, "Waiting for you to sign in", "Esc cancels the sign-in"} {
		if !strings.Contains(view, want) {
			t.Errorf("the sign-in lacks %q:\n%s", want, view)
		}
	}
	// A prompt for an older sign-in (Enter retried since) is dropped.
	old := s.tag()
	s.start()
	s.Update(entraEventMsg{tag: old, version: 9, prompt: &DeviceCode{URL: "https://old", Code: "OLD"}})
	if strings.Contains(ansi.Strip(s.View()), "OLD") {
		t.Fatalf("a stale prompt was shown:\n%s", ansi.Strip(s.View()))
	}
}

func TestEntraSignIn_ErrorIsShownWholeAndEnterTriesAgain(t *testing.T) {
	m := newTenant()
	perm := "sign in to contoso: entra contoso: listing groups: refused (403 Authorization_RequestDenied: Insufficient privileges). " +
		"The app registration needs the Microsoft Graph permission User.Read.All and GroupMember.Read.All with admin consent. " +
		"An administrator of the tenant can grant it at https://login.microsoftonline.com/4b1c2d3e/adminconsent?client_id=11111111"
	m.signInErr = errors.New(perm)
	d := newDriver(t, entraTestConfig(entraStore(t), m), StartImport)
	d.keys("end", "enter")
	if _, ok := d.active().(*signInScreen); !ok {
		t.Fatalf("a failed sign-in left its screen: %T", d.active())
	}
	screen := d.screen()
	// Every word of the error is on the screen, wrapped, not cut.
	flat := strings.Join(strings.Fields(screen), " ")
	for _, want := range []string{"Could not sign in to contoso", "User.Read.All", "GroupMember.Read.All",
		"https://login.microsoftonline.com/4b1c2d3e/adminconsent?client_id=11111111", "Enter tries again"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the failed sign-in lacks %q:\n%s", want, screen)
		}
	}
	m.mu.Lock()
	m.signInErr = nil
	m.mu.Unlock()
	d.keys("enter")
	if _, ok := d.active().(*entraGroupsScreen); !ok || m.signIns != 2 {
		t.Fatalf("Enter did not sign in again (%d sign-ins): %T\n%s", m.signIns, d.active(), d.screen())
	}
}

func TestEntraGroups_ListsGroupsWithMemberCounts(t *testing.T) {
	d, _ := chooser(t, entraStore(t), newTenant())
	for _, want := range []string{"4 groups in contoso", "Sales  (5 members)", "Sales EMEA  (1 member)", "Select to import",
		"[x] Add new users", "[ ] Update previously imported users"} {
		d.mustShow(want)
	}
}

func TestEntraGroups_TypingSearchesTheServerOnceTypingPauses(t *testing.T) {
	m := newTenant()
	d, g := chooser(t, entraStore(t), m)
	d.keys("/")
	if !g.Typing() {
		t.Fatal("/ did not focus the search box")
	}
	// Three keystrokes: each schedules a search; only the last one's fires.
	var due []tea.Cmd
	for _, k := range []string{"s", "a", "l"} {
		due = append(due, g.Update(keyPress(k)))
	}
	for _, cmd := range due {
		for _, msg := range flatten(t, cmd) {
			d.send(msg)
		}
	}
	got := m.searched()
	if len(got) != 2 || got[0] != "" || got[1] != "sal" {
		t.Fatalf("searches = %q; want the listing, then one search for sal", got)
	}
	d.mustShow(`Found 2 groups matching "sal"`)
	d.mustNotShow("Marketing")
	// Enter keeps the search and goes back to the list without asking again.
	d.keys("enter")
	if g.Typing() || len(m.searched()) != 2 {
		t.Fatalf("Enter: typing %v, searches %q", g.Typing(), m.searched())
	}
	// Esc on the list clears the search: all groups again.
	d.keys("esc")
	d.mustShow("4 groups in contoso")
	if _, ok := d.active().(*entraGroupsScreen); !ok {
		t.Fatalf("Esc with a search left the chooser: %T", d.active())
	}
}

func TestEntraGroups_LateResultsAreDropped(t *testing.T) {
	m := newTenant()
	_, g := chooser(t, entraStore(t), m)
	old := g.tag()
	g.search("mark") // the next request: old's rows are late now
	g.Update(batchMsg{tag: old, rows: []resultRow{row(m.groups[0], store.StateNew, "")}, done: true})
	if g.list.results.t.Total() != 0 || !g.list.searching {
		t.Fatalf("a late batch was shown: %d rows, searching %v", g.list.results.t.Total(), g.list.searching)
	}
	g.typed = 5
	g.Update(searchDueMsg{screen: g.ID(), n: 4, q: "sales"})
	if g.list.query != "mark" {
		t.Fatalf("a superseded keystroke searched: query %q", g.list.query)
	}
}

func TestEntraGroups_SelectionSurvivesSearches(t *testing.T) {
	m := newTenant()
	st := entraStore(t)
	d, g := chooser(t, st, m)
	tickGroup(t, d, g, "Sales")
	g.list.box.SetValue("mark")
	d.run(g.searchNow())
	d.mustShow(`Found 1 group matching "mark"`)
	d.mustShow("1 selected")
	tickGroup(t, d, g, "Marketing")
	d.mustShow("2 selected")
	names := func() (out []string) {
		for _, e := range g.sess.picked() {
			out = append(out, e.Name)
		}
		return out
	}
	if got := names(); strings.Join(got, ",") != "Marketing,Sales" {
		t.Fatalf("picked = %v", got)
	}
	// a on a list whose rows are all ticked unticks them; others stay.
	d.keys("a")
	if got := names(); strings.Join(got, ",") != "Sales" {
		t.Fatalf("a (none) left %v", got)
	}
}

func TestEntraGroups_EnterNeedsAGroupAndAnOption(t *testing.T) {
	d, g := chooser(t, entraStore(t), newTenant())
	d.keys("enter")
	d.mustShow("Tick one or more groups with Space")
	tickGroup(t, d, g, "Sales")
	// Untick Add new users: with neither option there is nothing to do.
	d.keys("tab", "space")
	if g.sess.req.AddNew || g.focus != chooseOptions {
		t.Fatalf("Tab, Space: addNew %v, focus %v", g.sess.req.AddNew, g.focus)
	}
	d.keys("enter")
	d.mustShow("Tick Add new users, Update previously imported users, or both")
	d.keys("right", "space", "enter")
	if _, ok := d.active().(*rolePicker); !ok || !g.sess.req.UpdateExisting {
		t.Fatalf("Enter with a group and Update ticked: %T, update %v", d.active(), g.sess.req.UpdateExisting)
	}
	d.mustShow("Roles for new users")
}

// toSummary ticks Sales, sets the options, picks the roles and returns the
// summary once planned.
func toSummary(t *testing.T, d *driver, g *entraGroupsScreen, update bool, roles ...string) *summaryScreen {
	t.Helper()
	tickGroup(t, d, g, "Sales")
	g.sess.req.UpdateExisting = update
	d.keys("enter")
	p, ok := d.active().(*rolePicker)
	if !ok {
		t.Fatalf("no role picker: %T", d.active())
	}
	for _, r := range roles {
		for i, pr := range p.roles {
			if pr.Name == r {
				p.cursor = i
				d.keys("space")
			}
		}
	}
	d.keys("enter")
	s, ok := d.active().(*summaryScreen)
	if !ok || s.planning || s.planned == nil {
		t.Fatalf("no planned summary: %T\n%s", d.active(), d.screen())
	}
	return s
}

func TestEntraSummary_EmailMatchLeftAloneUnlessUpdateIsTicked(t *testing.T) {
	for _, tc := range []struct {
		name    string
		update  bool
		want    []string
		command string
	}{
		{"add new only", false, []string{
			"Users 5 members: create 3 · update 0 · skip 1 · fail 1",
			"skip cara — matches existing user cara.internal by email; updating not selected",
			"fail eve — ",
		}, "usersync import entra --tenant contoso --group Sales --add-new --roles Viewer --yes"},
		{"add new and update", true, []string{
			"Users 5 members: create 3 · update 1 · fail 1",
			"update cara — linked to existing user cara.internal by email",
		}, "usersync import entra --tenant contoso --group Sales --add-new --update-existing --roles Viewer --yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, g := chooser(t, entraStore(t), newTenant())
			s := toSummary(t, d, g, tc.update, "Viewer")
			s.SetSize(80, 60) // everything on one page
			// Long lines wrap: compare with the spaces folded.
			view := strings.Join(strings.Fields(ansi.Strip(s.View())), " ")
			for _, want := range append(tc.want, "Groups Sales (5 members)", "Roles for new users Viewer",
				"Groups create 1", "1 entry is disabled in the directory", tc.command) {
				if !strings.Contains(view, want) {
					t.Errorf("summary lacks %q:\n%s", want, view)
				}
			}
			in := s.planned.prepared.Input.Options
			if !in.MatchByEmail || !in.RequireEmail || !in.AddNew || in.UpdateExisting != tc.update || !in.Enable {
				t.Fatalf("options = %+v", in)
			}
		})
	}
}

func TestEntraSummary_SharedGroupNameIsWrittenAsItsID(t *testing.T) {
	sess := &entraSession{source: Source{Name: "contoso"}, selected: map[string]struct{}{}, known: map[string]directory.Entry{}, ids: map[string]map[string]bool{}}
	a := directory.Entry{Type: directory.TypeGroup, ExternalID: "g-1", Name: "Field Sales"}
	b := directory.Entry{Type: directory.TypeGroup, ExternalID: "g-2", Name: "field sales"}
	c := directory.Entry{Type: directory.TypeGroup, ExternalID: "g-3", Name: "O'Brien's team"}
	sess.seen([]resultRow{{e: a}, {e: b}, {e: c}})
	req := importer.Entra{Tenant: "contoso", Groups: []string{sess.groupArg(a), sess.groupArg(c)}, UpdateExisting: true,
		Roles: []store.Assignment{{Role: "Viewer", Scope: "global"}, {Role: "Editor", Scope: "project x"}}}
	cmd := req.CommandLine()
	want := `usersync import entra --tenant contoso --group g-1 --group 'O'\''Brien'\''s team' --update-existing --roles 'Viewer,Editor@project x' --yes`
	if cmd != want {
		t.Fatalf("command =\n%s\nwant\n%s", cmd, want)
	}
}

func TestEntraImport_AppliesThePlanAndReports(t *testing.T) {
	st := entraStore(t)
	d, g := chooser(t, st, newTenant())
	toSummary(t, d, g, true, "Viewer")
	d.keys("enter")
	if _, ok := d.active().(*reportScreen); !ok {
		t.Fatalf("Enter on the summary did not end on the report: %T\n%s", d.active(), d.screen())
	}
	d.mustShow("completed")
	d.mustShow("4 created · 1 updated · 1 failed") // Sales, amy, bob, dan; cara; eve
	users, err := st.ListUsers(store.UserFilter{Source: "contoso"})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]store.User{}
	for _, u := range users {
		byName[u.Username] = u
	}
	for _, name := range []string{"amy", "bob", "dan", "cara.internal"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("no contoso user %s: %v", name, users)
		}
	}
	if u := byName["cara.internal"]; u.Kind != store.External || u.ExternalID != "oid-cara" {
		t.Errorf("the internal user was not linked by email: %+v", u)
	}
	if byName["dan"].Enabled || !byName["amy"].Enabled {
		t.Errorf("enabled: dan %v (disabled in Entra), amy %v", byName["dan"].Enabled, byName["amy"].Enabled)
	}
	if _, ok := byName["eve"]; ok {
		t.Error("eve, without email, was imported")
	}
	grp, err := st.GetGroup("Sales")
	if err != nil || len(grp.Roles) != 1 || grp.Roles[0].Role != "Viewer" {
		t.Fatalf("group Sales = %+v (%v)", grp, err)
	}
	// The report returns to the chooser, refreshed: Sales was imported.
	d.keys("esc")
	if d.active() != screen(g) || len(g.sess.selected) != 0 {
		t.Fatalf("Esc on the report: %T, %d still selected", d.active(), len(g.sess.selected))
	}
	d.mustShow("Select to synchronize")
}

func TestEntraSummary_ShowsThrottlingWhileReading(t *testing.T) {
	m := newTenant()
	m.throttle = 7 * time.Second
	d, g := chooser(t, entraStore(t), m)
	// The countdown's ticks are not chased (each waits a second).
	d.skip = func(msg tea.Msg) bool { _, ok := msg.(throttleTickMsg); return ok }
	toSummary(t, d, g, false)
	d.mustShow("Throttled by Microsoft Graph: waiting 7s before retrying")
	// Once the wait is over, what it cost stays.
	s := d.active().(*summaryScreen)
	s.watch.ev.now = func() time.Time { return time.Now().Add(time.Minute) }
	s.render()
	d.mustShow("Microsoft Graph throttled 1 request; waited 7s in all.")
}

func TestEntraProgress_ShowsThrottling(t *testing.T) {
	sh := testShared(Config{Store: entraStore(t)})
	ev := newEntraEvents()
	gate := make(chan struct{})
	defer close(gate)
	p := newProgressScreen(sh, job{title: "Synchronizing group Sales", verb: "synchronization", events: ev,
		prepare: func(ctx context.Context) (store.Input, error) {
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return store.Input{}, ctx.Err()
		}})
	p.SetSize(80, 22)
	msgs := p.Init()().(tea.BatchMsg)
	defer p.Close()
	ev.hooks().Throttled(12 * time.Second)
	p.Update(runCmd(t, msgs[1])) // the listener
	if v := ansi.Strip(p.View()); !strings.Contains(v, "Throttled by Microsoft Graph: waiting 12s before retrying") {
		t.Fatalf("the progress does not show the throttling:\n%s", v)
	}
}

func TestEntraSync_GroupCardSignsInToTheTenant(t *testing.T) {
	st := entraStore(t)
	m := newTenant()
	// Sales was imported before from contoso.
	read, _ := m.memDir.ReadGroup(context.Background(), "gid-sales")
	if _, err := st.Apply(context.Background(), store.Input{Source: "contoso", Actor: "seed", Command: "seed",
		Groups: []store.GroupInput{{Read: read}}, Options: store.Options{AddNew: true, MatchByEmail: true, RequireEmail: true}}, nil); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, entraTestConfig(st, m), StartUsers)
	d.run(d.m.navigate(nav{kind: navPush, s: newGroupScreen(d.m.sh, "Sales")}))
	d.keys("s")
	if _, ok := d.active().(*reportScreen); !ok {
		t.Fatalf("s on an Entra group did not sync through the sign-in: %T\n%s", d.active(), d.screen())
	}
	d.mustShow("completed")
	if m.signIns != 1 {
		t.Fatalf("%d sign-ins", m.signIns)
	}
	for _, s := range d.m.stack {
		if _, ok := s.(*serversScreen); ok {
			t.Fatal("the picker stayed on the stack under the sync")
		}
	}
}

func TestEntraSignIn_HelpAndLayoutFit80x24(t *testing.T) {
	m := newTenant()
	d, g := chooser(t, entraStore(t), m)
	tickGroup(t, d, g, "Sales")
	for _, s := range []string{d.screen()} {
		lines := strings.Split(s, "\n")
		if len(lines) != 24 {
			t.Fatalf("%d lines", len(lines))
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > 80 {
				t.Fatalf("a line is wider than 80: %q", l)
			}
		}
		if last := lines[23]; strings.Contains(last, "…") {
			t.Fatalf("the help line is cut: %q", last)
		}
	}
}

func TestFlow_EntraImportWizard(t *testing.T) {
	m := newTenant()
	m.approve = make(chan struct{})
	st := entraStore(t)
	f := startFlow(t, entraTestConfig(st, m), StartImport)
	f.waitFor("Pick a directory", "contoso")
	f.keys("end", "enter")
	f.waitFor(testDeviceURL, testUserCode, "Waiting for you to sign in")
	f.golden("01-sign-in")
	close(m.approve)
	f.waitFor("4 groups in contoso", "Signed in to contoso.", "Sales  (5 members)")
	f.golden("02-groups")
	f.keys("/")
	f.typeText("sal")
	f.waitFor(`Found 2 groups matching "sal"`)
	f.keys("enter", "space")
	f.waitFor("1 selected")
	f.keys("tab", "right", "space")
	f.waitFor("[x] Update previously imported users")
	f.golden("03-chosen")
	f.keys("enter")
	f.waitFor("Roles for new users: the imported groups get them", "Viewer") // the roles are loaded
	f.keys("end", "space", "enter")
	f.waitFor("Press Enter to import", "--update-existing")
	f.golden("04-summary")
	f.keys("enter")
	f.waitFor("Run 1: completed")
	f.golden("05-report")
	f.keys("esc")
	f.waitFor("Run 1 completed.", "Select to synchronize")
	u, err := st.GetUser("cara.internal")
	if err != nil || u.Source != "contoso" {
		t.Fatalf("cara.internal = %+v (%v): not linked by email", u, err)
	}
}

func TestFlow_EntraEscCancelsTheSignIn(t *testing.T) {
	m := newTenant()
	m.approve = make(chan struct{}) // nobody signs in
	m.cancelled = make(chan error, 1)
	f := startFlow(t, entraTestConfig(entraStore(t), m), StartImport)
	f.waitFor("Pick a directory")
	f.keys("end", "enter")
	f.waitFor(testUserCode)
	f.keys("esc")
	f.waitFor("Pick a directory")
	select {
	case err := <-m.cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the sign-in ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Esc did not cancel the sign-in's context")
	}
	f.mustNotShow(testUserCode)
}

func TestEntraGroups_MouseTicksGroupsAndOptions(t *testing.T) {
	d, g := chooser(t, entraStore(t), newTenant())
	// Rows start under the search box, the hint, the header and Select all;
	// Sales is the third group.
	d.send(mouseMsg{kind: mouseClick, x: 3, y: chooserTop + 2})
	if _, ok := g.sess.selected["gid-sales"]; !ok {
		t.Fatalf("a click on Sales' checkbox did not tick it:\n%s", d.screen())
	}
	// The options line is under the rows.
	d.send(mouseMsg{kind: mouseClick, x: optionsSplit + 4, y: chooserTop + g.list.results.t.Height()})
	if !g.sess.req.UpdateExisting || g.focus != chooseOptions {
		t.Fatalf("a click on Update previously imported users: update %v, focus %v", g.sess.req.UpdateExisting, g.focus)
	}
	d.send(mouseMsg{kind: mouseClick, x: 4, y: chooserTop + g.list.results.t.Height()})
	if g.sess.req.AddNew {
		t.Fatal("a click on Add new users did not untick it")
	}
}

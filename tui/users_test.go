package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

func someUsers() []store.User {
	return []store.User{
		{Username: "aandrei", DisplayName: "Andrei", Kind: store.Internal, Enabled: true},
		{Username: "andarm", DisplayName: "Andrew Armstrong", Kind: store.External, Source: "dc01", ExternalID: "uuid-andarm", Enabled: true, Groups: []string{"Analysis"}},
		{Username: "bob", DisplayName: "Bob Stone", Kind: store.External, Source: "dc01", Enabled: false},
		{Username: "mentor", DisplayName: "Mentor", Kind: store.Internal, Enabled: true},
	}
}

func someGroups() []store.Group {
	return []store.Group{
		{Name: "Admins", Kind: store.Internal, Members: []string{"mentor"}},
		{Name: "Analysis", Kind: store.External, Source: "dc01", ExternalID: "uuid-g-Analysis", Members: []string{"andarm", "bob"},
			Roles: []store.Assignment{{Role: "Editor", Scope: "global"}}},
	}
}

func newTestUsers(t *testing.T, cfg Config) *usersScreen {
	t.Helper()
	s := newUsersScreen(testShared(cfg))
	s.SetSize(80, 22)
	s.renew()
	s.Update(storeLoadedMsg{tag: s.tag(), users: someUsers(), groups: someGroups()})
	return s
}

func TestUsers_TabsFilterByKindAndGroups(t *testing.T) {
	s := newTestUsers(t, Config{})
	if s.users.Len() != 4 {
		t.Fatalf("All users shows %d", s.users.Len())
	}
	s.Update(keyPress("2"))
	if s.users.Len() != 2 || !strings.Contains(ansi.Strip(s.View()), "[Internal]") {
		t.Fatalf("Internal shows %d:\n%s", s.users.Len(), ansi.Strip(s.View()))
	}
	s.Update(keyPress("tab"))
	if s.tab != tabExternal || s.users.Len() != 2 {
		t.Fatalf("Tab: tab %v, %d users", s.tab, s.users.Len())
	}
	s.Update(keyPress("tab"))
	view := ansi.Strip(s.View())
	if s.tab != tabGroups || !strings.Contains(view, glyphGroup+" Analysis") || !strings.Contains(view, "external · dc01") {
		t.Fatalf("User groups:\n%s", view)
	}
	s.Update(keyPress("tab"))
	if s.tab != tabAll {
		t.Fatalf("Tab after the last filter: %v", s.tab)
	}
	s.Update(keyPress("shift+tab"))
	if s.tab != tabGroups {
		t.Fatalf("shift+tab from the first filter: %v", s.tab)
	}
}

func TestUsers_SearchNarrowsAndEnterOpensDetails(t *testing.T) {
	s := newTestUsers(t, Config{})
	s.Update(keyPress("/"))
	for _, m := range typeText("arm") {
		for _, r := range update(t, s, m) {
			s.Update(r)
		}
	}
	if s.users.Len() != 1 {
		t.Fatalf("search arm shows %d users", s.users.Len())
	}
	s.Update(keyPress("enter")) // keep the search
	if s.Typing() {
		t.Fatal("Enter did not leave the search box")
	}
	got := update(t, s, keyPress("enter"))
	if !pushes[*userScreen](got) {
		t.Fatalf("Enter did not open the user: %v", got)
	}
	if u := got[0].(pushMsg).s.(*userScreen); u.name != "andarm" {
		t.Fatalf("opened %s", u.name)
	}
	for _, r := range update(t, s, keyPress("esc")) { // clear the search
		s.Update(r)
	}
	s.Update(keyPress("4"))
	if !pushes[*groupScreen](update(t, s, keyPress("enter"))) {
		t.Fatal("Enter on a group did not open its card")
	}
	if !pushes[*serversScreen](update(t, s, keyPress("i"))) {
		t.Fatal("i did not open the import wizard")
	}
}

func TestUsers_GroupMenuOffersSyncOnlyForExternalGroups(t *testing.T) {
	s := newTestUsers(t, Config{})
	s.Update(keyPress("4"))
	msgs := update(t, s, keyPress("m"))
	menu := msgs[0].(pushMsg).s.(*menuScreen)
	if len(menu.items) != 1 || menu.items[0].label != "Group details" {
		t.Fatalf("internal group's menu offers more than its details: %+v", menu.items)
	}
	s.Update(keyPress("down"))
	msgs = update(t, s, keyPress("."))
	menu = msgs[0].(pushMsg).s.(*menuScreen)
	if menu.items[1].disabled != "" {
		t.Fatalf("external group's Synchronize is disabled: %s", menu.items[1].disabled)
	}
	menu.SetSize(80, 22)
	menu.Update(keyPress("down"))
	choice := update(t, menu, keyPress("enter"))[0].(popMsg).result.(menuChoiceMsg)
	if choice.action != "sync" {
		t.Fatalf("menu answered %+v", choice)
	}
	got := update(t, s, choice)
	if g, ok := got[0].(pushMsg).s.(*groupScreen); !ok || !g.syncOnLoad || g.name != "Analysis" {
		t.Fatalf("Synchronize group did not open Analysis to sync: %v", got)
	}
}

func TestUserCard_EffectiveRolesSayWhereFrom(t *testing.T) {
	sh := testShared(Config{})
	u := newUserScreen(sh, "andarm")
	u.SetSize(80, 22)
	u.renew()
	u.Update(userLoadedMsg{tag: u.tag(), user: someUsers()[1], roles: []store.EffectiveAssignment{
		{Assignment: store.Assignment{Role: "Viewer", Scope: "global"}},
		{Assignment: store.Assignment{Role: "Editor", Scope: "project-x"}, Via: "Analysis"},
	}})
	view := ansi.Strip(u.View())
	for _, want := range []string{"User andarm", "Andrew Armstrong", "external", "dc01", "uuid-andarm", "Analysis", "Viewer", "own", "Editor", "via group Analysis"} {
		if !strings.Contains(view, want) {
			t.Errorf("user card lacks %q:\n%s", want, view)
		}
	}
	// c picks a user, then asks before copying.
	if !pushes[*userPicker](update(t, u, keyPress("c"))) {
		t.Fatal("c did not open the user picker")
	}
	u.Update(userPickedMsg{tag: u.tag(), name: "mentor"})
	if !strings.Contains(ansi.Strip(u.View()), "Copy the roles and assignments of mentor to andarm? (y/N)") {
		t.Fatalf("no confirmation:\n%s", ansi.Strip(u.View()))
	}
	if cmd := u.Update(keyPress("n")); cmd != nil || u.confirm != "" {
		t.Fatal("n did not cancel the copy")
	}
}

func TestUserCard_ReadOnlyRefusesCopy(t *testing.T) {
	sh := testShared(Config{ReadOnly: true})
	u := newUserScreen(sh, "andarm")
	u.SetSize(80, 22)
	if cmd := u.Update(keyPress("c")); cmd != nil {
		t.Fatal("c opened the picker in a read-only session")
	}
	if !strings.Contains(ansi.Strip(u.View()), "Read-only session") {
		t.Fatalf("no read-only note:\n%s", ansi.Strip(u.View()))
	}
}

func TestGroupCard_MembersAndSyncButton(t *testing.T) {
	sh := testShared(Config{Sources: []Source{{Name: "dc01", Kind: directory.KindLDAP}}})
	g := newGroupScreen(sh, "Analysis")
	g.SetSize(80, 22)
	g.renew()
	g.Update(groupLoadedMsg{tag: g.tag(), group: someGroups()[1]})
	view := ansi.Strip(g.View())
	for _, want := range []string{"Group details: Analysis", syncButton, "Members (2)", "andarm", "bob", "Editor"} {
		if !strings.Contains(view, want) {
			t.Errorf("group card lacks %q:\n%s", want, view)
		}
	}
	got := update(t, g, keyPress("s"))
	conn, ok := got[0].(pushMsg).s.(*serversScreen)
	if !ok || conn.pick != "dc01" || conn.then == nil {
		t.Fatalf("s did not connect to the group's directory: %v", got)
	}
	if !pushes[*userScreen](update(t, g, keyPress("enter"))) {
		t.Fatal("Enter did not open the member")
	}
}

func TestGroupCard_CannotSyncInternalOrUnconfiguredOrReadOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		g    store.Group
		want string
	}{
		{"internal", Config{}, someGroups()[0], "An internal group"},
		{"unconfigured", Config{}, someGroups()[1], "not configured any more"},
		{"read-only", Config{ReadOnly: true, Sources: []Source{{Name: "dc01", Kind: directory.KindLDAP}}}, someGroups()[1], "Read-only session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroupScreen(testShared(tc.cfg), tc.g.Name)
			g.SetSize(80, 22)
			g.renew()
			g.Update(groupLoadedMsg{tag: g.tag(), group: tc.g})
			if cmd := g.Update(keyPress("s")); cmd != nil {
				t.Fatal("s started a sync")
			}
			if !strings.Contains(ansi.Strip(g.View()), tc.want) {
				t.Fatalf("no %q:\n%s", tc.want, ansi.Strip(g.View()))
			}
		})
	}
}

func TestSummary_ShowsPlanWarningsAndCommand(t *testing.T) {
	search, sh := newTestSearch(t)
	startSearch(t, search, "an*")
	search.Update(batchMsg{tag: search.tag(), rows: anRows(), done: true})
	search.Update(keyPress("a"))
	search.Update(keyPress("enter")) // on to the options: the ticked rows are the import's
	search.sess.req.Enable = true
	search.sess.req.Roles = []store.Assignment{{Role: "Viewer", Scope: "global"}}
	s := newSummaryScreen(sh, search.sess)
	s.SetSize(80, 22)
	s.Init() // the plan runs in a command: the test answers it
	run := &store.Run{Status: store.RunPlanned, Counts: store.Counts{Created: 1, Updated: 2, Skipped: 1},
		Entries: []store.RunEntry{
			{Name: "andbal", Type: directory.TypeUser, Action: store.ActionCreated},
			{Name: "andarm", Type: directory.TypeUser, Action: store.ActionUpdated},
			{Name: "anisha", Type: directory.TypeUser, Action: store.ActionUpdated},
			{Name: "aandrei", Type: directory.TypeUser, Action: store.ActionSkipped, Reason: store.ReasonInternal},
		}}
	s.Update(plannedMsg{tag: s.tag(), run: run, prepared: &importer.Prepared{Warnings: []string{"1 user has no email address: dora."}}})
	view := ansi.Strip(s.View())
	for _, want := range []string{
		"Selected             2 users and 1 group", "Users   4 users: create 1 · update 2 · skip 1",
		"skip aandrei — " + store.ReasonInternal, "! 1 user has no email address: dora.",
		"usersync import ldap --server dc01 --query 'an*' --select all --roles Viewer",
		"Press Enter to import",
	} {
		if !strings.Contains(view, want) {
			t.Errorf("summary lacks %q:\n%s", want, view)
		}
	}
	if !pushes[*progressScreen](update(t, s, keyPress("enter"))) {
		t.Fatal("Enter on the summary did not start the import")
	}
}

func TestSummary_ReadOnlyRefusesToImport(t *testing.T) {
	search, _ := newTestSearch(t)
	sh := testShared(Config{ReadOnly: true})
	s := newSummaryScreen(sh, search.sess)
	s.SetSize(80, 22)
	s.renew()
	s.Update(plannedMsg{tag: s.tag(), run: &store.Run{}})
	msgs := update(t, s, keyPress("enter"))
	if pushes[*progressScreen](msgs) || len(msgs) != 1 || !msgs[0].(statusMsg).isErr {
		t.Fatalf("a read-only session imported: %v", msgs)
	}
}

// TestSummary_TwoEntersStartOneImport: a second Enter, queued before the
// progress screen arrives, starts nothing.
func TestSummary_TwoEntersStartOneImport(t *testing.T) {
	search, sh := newTestSearch(t)
	s := newSummaryScreen(sh, search.sess)
	s.SetSize(80, 22)
	s.renew()
	s.Update(plannedMsg{tag: s.tag(), run: &store.Run{}, prepared: &importer.Prepared{}})
	first := update(t, s, keyPress("enter"))
	second := update(t, s, keyPress("enter"))
	if !pushes[*progressScreen](first) || len(second) != 0 {
		t.Fatalf("first Enter %v, second Enter %v: want one import", first, second)
	}
}

// TestGroupCard_TwoSyncKeysStartOneSync: likewise on a group card's s.
func TestGroupCard_TwoSyncKeysStartOneSync(t *testing.T) {
	sh := testShared(Config{Sources: []Source{{Name: "dc01", Kind: directory.KindLDAP}}})
	g := newGroupScreen(sh, "Analysis")
	g.SetSize(80, 22)
	g.renew()
	g.Update(groupLoadedMsg{tag: g.tag(), group: store.Group{Name: "Analysis", Kind: store.External, Source: "dc01", ExternalID: "x"}})
	first := update(t, g, keyPress("s"))
	second := update(t, g, keyPress("s"))
	if len(first) != 1 || len(second) != 0 {
		t.Fatalf("first s %v, second s %v: want one sync", first, second)
	}
	g.revealed()
	if again := update(t, g, keyPress("s")); len(again) != 1 {
		t.Fatalf("back on the card, s did nothing: %v", again)
	}
}

// TestUsers_EmptyStoreSaysHowToStart: with no users at all, the Users app
// says how to begin (import, a configuration template, the demo); a search
// that finds nobody says only that.
func TestUsers_EmptyStoreSaysHowToStart(t *testing.T) {
	s := newUsersScreen(testShared(Config{}))
	s.SetSize(80, 22)
	s.renew()
	s.Update(storeLoadedMsg{tag: s.tag()})
	view := ansi.Strip(s.View())
	for _, want := range []string{"No users yet.", "Press i to import", "usersync directories init", "usersync demo"} {
		if !strings.Contains(view, want) {
			t.Errorf("the empty Users app lacks %q:\n%s", want, view)
		}
	}
	s.setTab(tabInternal)
	if view := ansi.Strip(s.View()); !strings.Contains(view, "No users here.") || strings.Contains(view, "usersync demo") {
		t.Errorf("an empty filter:\n%s", view)
	}
}

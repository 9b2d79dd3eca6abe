package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/list"
	"github.com/usersync/usersync/tui/visible"
)

// The Users app's filters (tabs).
type usersTab int

const (
	tabAll usersTab = iota
	tabInternal
	tabExternal
	tabGroups
	tabCount
)

var tabNames = [tabCount]string{"All users", "Internal", "External", "User groups"}

// storeLoadedMsg is the Users app's data.
type storeLoadedMsg struct {
	tag    tag
	users  []store.User
	groups []store.Group
	err    error
}

func (m storeLoadedMsg) target() tag { return m.tag }

func groupHay(g store.Group) string { return g.Name + "\x00" + g.Source }

// usersScreen is the Users app: the user list with its filters (All users,
// Internal, External, User groups) and a search.
type usersScreen struct {
	base
	tab    usersTab
	users  list.Table[store.User]
	groups list.Table[store.Group]
	filter filterBox // the search
	loaded bool
	err    string
	note   string
	seen   uint64 // shared.changes when last loaded
}

func newUsersScreen(sh *shared) *usersScreen {
	s := &usersScreen{base: newBase(sh)}
	s.filter = newFilterBox(sh, "/", "search username, display name or email", s.refilter,
		func(msg tea.KeyPressMsg) { s.navigate(msg) })
	return s
}

// Title implements screen.
func (s *usersScreen) Title() string { return "Users" }

// Init implements screen: load users and groups.
func (s *usersScreen) Init() tea.Cmd { return s.load() }

func (s *usersScreen) load() tea.Cmd {
	s.seen = s.sh.changes
	tg, _ := s.renew()
	st := s.sh.cfg.Store
	return func() tea.Msg {
		users, err := st.ListUsers(store.UserFilter{})
		if err != nil {
			return storeLoadedMsg{tag: tg, err: err}
		}
		groups, err := st.ListGroups()
		return storeLoadedMsg{tag: tg, users: users, groups: groups, err: err}
	}
}

// revealed reloads when an import, a sync or a copy changed the store
// since it loaded.
func (s *usersScreen) revealed() tea.Cmd {
	if s.seen == s.sh.changes {
		return nil
	}
	return s.load()
}

func (s *usersScreen) restyle() { s.filter.input.SetStyles(s.sh.st.input) }

// Typing implements screen.
func (s *usersScreen) Typing() bool { return s.filter.typing }

const usersTop = 3 // tabs, filter line, column header

// SetSize implements screen.
func (s *usersScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.users.SetHeight(h - usersTop - 1)
	s.groups.SetHeight(h - usersTop - 1)
	s.filter.input.SetWidth(max(10, w-30))
}

// Help implements screen.
func (s *usersScreen) Help() helpMap {
	k := s.sh.keys
	if s.filter.typing {
		return helpMap{short: s.filter.help(k, "search")}
	}
	short := []key.Binding{k.Up, k.Down, with(k.Enter, "details"), with(k.Tab, "filter"), with(k.Filter, "search"), k.Import, k.Menu}
	full := [][]key.Binding{
		k.navKeys(),
		{with(k.Enter, "details"), with(k.Tab, "next filter"), k.Tab1, k.Tab2, k.Tab3, k.Tab4},
		{with(k.Filter, "search"), k.Import, k.Menu},
	}
	return helpMap{short: short, full: full}
}

// setTab switches the filter.
func (s *usersScreen) setTab(t usersTab) tea.Cmd {
	s.tab = (t + tabCount) % tabCount
	if s.tab != tabGroups {
		s.users.SetKeep(kindKeep(s.tab))
		s.users.Refilter()
	}
	return nil
}

// kindKeep is the tab's condition on users (it captures the tab's value:
// filters run in commands).
func kindKeep(t usersTab) func(*store.User) bool {
	switch t {
	case tabInternal:
		return func(u *store.User) bool { return u.Kind == store.Internal }
	case tabExternal:
		return func(u *store.User) bool { return u.Kind == store.External }
	}
	return nil
}

// Update implements screen.
func (s *usersScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case storeLoadedMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.loaded = true
		s.err = ""
		if msg.err != nil {
			s.err = "Could not read the store: " + msg.err.Error()
			return nil
		}
		s.users.SetKeep(kindKeep(s.tab))
		s.users.Set(msg.users, userHay)
		s.groups.Set(msg.groups, groupHay)
		return nil
	case refreshMsg:
		s.note = msg.note
		return s.load()
	case filterDoneMsg:
		if s.fresh(msg.tag) {
			if msg.table == "groups" {
				s.groups.ApplyFilter(msg.Filtered)
			} else {
				s.users.ApplyFilter(msg.Filtered)
			}
		}
		return nil
	case menuChoiceMsg:
		return s.onMenu(msg)
	case tea.PasteMsg:
		if s.filter.typing {
			return s.filter.update(msg, k)
		}
	case mouseMsg:
		return s.onMouse(msg)
	case tea.KeyPressMsg:
		if s.filter.typing {
			return s.filter.update(msg, k)
		}
		s.note = ""
		switch {
		case s.navigate(msg):
		case key.Matches(msg, k.Tab):
			return s.setTab(s.tab + 1)
		case key.Matches(msg, k.ShiftTab):
			return s.setTab(s.tab - 1)
		case key.Matches(msg, k.Tab1):
			return s.setTab(tabAll)
		case key.Matches(msg, k.Tab2):
			return s.setTab(tabInternal)
		case key.Matches(msg, k.Tab3):
			return s.setTab(tabExternal)
		case key.Matches(msg, k.Tab4):
			return s.setTab(tabGroups)
		case key.Matches(msg, k.Filter):
			return s.filter.open()
		case key.Matches(msg, k.Enter):
			return s.open()
		case key.Matches(msg, k.Import):
			return s.push(newServersScreen(s.sh))
		case key.Matches(msg, k.Menu):
			return s.menu()
		case key.Matches(msg, k.Back):
			if s.filter.value() != "" {
				return s.filter.clear()
			}
		}
	}
	return nil
}

func (s *usersScreen) navigate(msg tea.KeyPressMsg) bool {
	if s.tab == tabGroups {
		return s.groups.Navigate(msg, s.sh.keys.Keys)
	}
	return s.users.Navigate(msg, s.sh.keys.Keys)
}

// refilter filters the users and the groups for the search q.
func (s *usersScreen) refilter(q string) tea.Cmd {
	return tea.Batch(
		filterCmd(&s.users, s.tag(), "users", q),
		filterCmd(&s.groups, s.tag(), "groups", q),
	)
}

func (s *usersScreen) onMouse(msg mouseMsg) tea.Cmd {
	if msg.kind == mouseClick && msg.y == 0 {
		// The tabs: find which label was clicked.
		x := 0
		for t := range tabCount {
			w := len(tabNames[t]) + 2
			if msg.x >= x && msg.x < x+w {
				return s.setTab(t)
			}
			x += w + 1
		}
		return nil
	}
	// A click moves the cursor; a click on the current row opens it.
	var before, p int
	if s.tab == tabGroups {
		before = s.groups.Cursor()
		p = tableMouse(&s.groups, msg, usersTop)
	} else {
		before = s.users.Cursor()
		p = tableMouse(&s.users, msg, usersTop)
	}
	if p >= 0 && p == before {
		return s.open()
	}
	return nil
}

// open opens the details of the row under the cursor.
func (s *usersScreen) open() tea.Cmd {
	if s.tab == tabGroups {
		if i, ok := s.groups.Current(); ok {
			return s.push(newGroupScreen(s.sh, s.groups.Item(i).Name))
		}
		return nil
	}
	if i, ok := s.users.Current(); ok {
		return s.push(newUserScreen(s.sh, s.users.Item(i).Username))
	}
	return nil
}

// menu opens the action menu of the row under the cursor.
func (s *usersScreen) menu() tea.Cmd {
	tg := s.tag()
	if s.tab == tabGroups {
		i, ok := s.groups.Current()
		if !ok {
			return nil
		}
		g := s.groups.Item(i)
		items := []menuItem{{label: "Group details", msg: menuChoiceMsg{tag: tg, action: "open"}}}
		if g.Kind == store.External {
			// An internal group has nothing to synchronize from: not offered.
			sync := menuItem{label: "Synchronize group", msg: menuChoiceMsg{tag: tg, action: "sync"}}
			if s.sh.cfg.ReadOnly {
				sync.disabled = "Read-only session: synchronizing is not allowed."
			}
			items = append(items, sync)
		}
		return s.push(newMenu(s.sh, "Group "+g.Name, items))
	}
	i, ok := s.users.Current()
	if !ok {
		return nil
	}
	u := s.users.Item(i)
	cp := menuItem{label: "Copy roles and assignments from…", msg: menuChoiceMsg{tag: tg, action: "copy"}}
	if s.sh.cfg.ReadOnly {
		cp.disabled = "Read-only session: changing assignments is not allowed."
	}
	return s.push(newMenu(s.sh, "User "+u.Username, []menuItem{
		{label: "User details", msg: menuChoiceMsg{tag: tg, action: "open"}},
		cp,
		{label: "Import users & groups…", msg: menuChoiceMsg{tag: tg, action: "import"}},
	}))
}

func (s *usersScreen) onMenu(msg menuChoiceMsg) tea.Cmd {
	switch msg.action {
	case "open":
		return s.open()
	case "import":
		return s.push(newServersScreen(s.sh))
	case "sync":
		if i, ok := s.groups.Current(); ok {
			g := newGroupScreen(s.sh, s.groups.Item(i).Name)
			g.syncOnLoad = true
			return s.push(g)
		}
	case "copy":
		if i, ok := s.users.Current(); ok {
			u := newUserScreen(s.sh, s.users.Item(i).Username)
			u.copyOnLoad = true
			return s.push(u)
		}
	}
	return nil
}

// View implements screen.
func (s *usersScreen) View() string {
	st := s.sh.st
	w := s.width
	var tabs []string
	for t := range tabCount {
		label := " " + tabNames[t] + " "
		if t == s.tab {
			tabs = append(tabs, st.tabOn.Render("["+strings.TrimSpace(label)+"]"))
		} else {
			tabs = append(tabs, st.tabOff.Render(label))
		}
	}
	lines := []string{strings.Join(tabs, " ")}
	var count string
	if s.tab == tabGroups {
		count = plural(s.groups.Len(), "group", "groups")
	} else {
		count = plural(s.users.Len(), "user", "users")
	}
	switch {
	case s.filter.typing:
		lines = append(lines, s.filter.input.View()+"  "+st.dim.Render(count))
	case s.filter.value() != "":
		lines = append(lines, st.dim.Render("Search: "+visible.String(s.filter.value())+" · "+count+" · Esc clears"))
	case s.note != "":
		lines = append(lines, st.ok.Render(cut(visible.String(s.note), w)))
	default:
		lines = append(lines, st.dim.Render(count+" · / to search · i to import from a directory"))
	}
	switch {
	case s.err != "":
		return joinLines(append(lines, "", st.err.Render(glyphWarning+" "+visible.String(s.err))))
	case !s.loaded:
		return joinLines(append(lines, "", st.dim.Render("Loading…")))
	}
	if s.tab == tabGroups {
		lines = append(lines, st.label.Render("  "+s.groupCols("NAME", "KIND", "MEMBERS", "ROLES")))
		if s.groups.Len() == 0 {
			return joinLines(append(lines, "  No groups. Import one from a directory with i."))
		}
		from, to := s.groups.Visible()
		for p := from; p < to; p++ {
			g := s.groups.Item(s.groups.At(p))
			text := s.groupCols(glyphGroup+" "+g.Name, kindText(g.Kind, g.Source), fmt.Sprint(len(g.Members)), store.FormatAssignments(g.Roles))
			lines = append(lines, rowLine(s.sh, p == s.groups.Cursor(), text, w))
		}
		return joinLines(lines)
	}
	lines = append(lines, st.label.Render("  "+s.userCols("USERNAME", "DISPLAY NAME", "KIND", "ENABLED")))
	if s.users.Len() == 0 {
		if s.tab == tabAll && strings.TrimSpace(s.filter.value()) == "" {
			// An empty store: say how to start.
			return joinLines(append(lines,
				"  No users yet.",
				"",
				"  Press i to import users and groups from a directory (LDAP or",
				"  Entra ID). No directory configured? 'usersync directories init'",
				"  writes a template to fill in; 'usersync demo' tries everything on",
				"  sample directories."))
		}
		return joinLines(append(lines, "  No users here."))
	}
	from, to := s.users.Visible()
	for p := from; p < to; p++ {
		u := s.users.Item(s.users.At(p))
		text := s.userCols(glyphUser+" "+u.Username, u.DisplayName, kindText(u.Kind, u.Source), yesNo(u.Enabled))
		if !u.Enabled {
			text = st.dim.Render(text)
		}
		lines = append(lines, rowLine(s.sh, p == s.users.Cursor(), text, w))
	}
	return joinLines(lines)
}

// userCols lays out a row of the users list; the cells are plain text
// (store records), shown with visible.String.
func (s *usersScreen) userCols(name, display, kind, enabled string) string {
	w := s.width - 2
	nameW, kindW, enW := 20, 18, 7
	dispW := max(8, w-nameW-kindW-enW-3)
	v := visible.String
	return pad(v(name), nameW) + " " + pad(v(display), dispW) + " " + pad(v(kind), kindW) + " " + pad(enabled, enW)
}

// groupCols lays out a row of the groups list, as userCols does.
func (s *usersScreen) groupCols(name, kind, members, roles string) string {
	w := s.width - 2
	nameW, kindW, memW := 26, 18, 8
	rolesW := max(8, w-nameW-kindW-memW-3)
	v := visible.String
	return pad(v(name), nameW) + " " + pad(v(kind), kindW) + " " + pad(members, memW) + " " + pad(v(roles), rolesW)
}

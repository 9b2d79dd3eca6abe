package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/list"
	"github.com/usersync/usersync/tui/visible"
)

// userPickedMsg is a user picker's answer, for the screen that asked.
type userPickedMsg struct {
	tag  tag
	name string
}

func (m userPickedMsg) target() tag { return m.tag }

// usersLoadedMsg is the result of store.ListUsers.
type usersLoadedMsg struct {
	tag   tag
	users []store.User
	err   error
}

func (m usersLoadedMsg) target() tag { return m.tag }

func userHay(u store.User) string {
	return u.Username + "\x00" + u.DisplayName + "\x00" + u.Email
}

// userPicker picks one user of the store (copy roles and assignments from).
type userPicker struct {
	base
	title   string
	prompt  string
	exclude string // the user being copied to, not offered
	forTag  tag    // who gets the answer
	t       list.Table[store.User]
	filter  filterBox
	loaded  bool
	err     string
}

func newUserPicker(sh *shared, title, prompt, exclude string, forTag tag) *userPicker {
	p := &userPicker{base: newBase(sh), title: title, prompt: prompt, exclude: exclude, forTag: forTag}
	p.filter = newFilterBox(sh, "Filter: ", "username, display name or email",
		func(q string) tea.Cmd { return filterCmd(&p.t, p.tag(), "users", q) },
		func(msg tea.KeyPressMsg) { p.t.Navigate(msg, p.sh.keys.Keys) })
	return p
}

// Title implements screen.
func (p *userPicker) Title() string { return p.title }

// Init implements screen: load the users.
func (p *userPicker) Init() tea.Cmd {
	tg, _ := p.renew()
	st := p.sh.cfg.Store
	return func() tea.Msg {
		users, err := st.ListUsers(store.UserFilter{})
		return usersLoadedMsg{tag: tg, users: users, err: err}
	}
}

func (p *userPicker) restyle() { p.filter.input.SetStyles(p.sh.st.input) }

// Typing implements screen.
func (p *userPicker) Typing() bool { return p.filter.typing }

// SetSize implements screen.
func (p *userPicker) SetSize(w, h int) {
	p.base.SetSize(w, h)
	p.t.SetHeight(h - 4)
	p.filter.input.SetWidth(max(10, w-12))
}

// Help implements screen.
func (p *userPicker) Help() helpMap {
	k := p.sh.keys
	if p.filter.typing {
		return helpMap{short: p.filter.help(k, "filter")}
	}
	return helpMap{
		short: []key.Binding{k.Up, k.Down, k.Filter, with(k.Enter, "pick"), with(k.Back, "cancel")},
		full:  [][]key.Binding{k.navKeys(), {k.Filter, with(k.Enter, "pick"), with(k.Back, "cancel")}},
	}
}

// Update implements screen.
func (p *userPicker) Update(msg tea.Msg) tea.Cmd {
	k := &p.sh.keys
	switch msg := msg.(type) {
	case usersLoadedMsg:
		if !p.fresh(msg.tag) {
			return nil
		}
		p.loaded = true
		if msg.err != nil {
			p.err = "Could not read the users: " + msg.err.Error()
			return nil
		}
		users := msg.users[:0:0]
		for _, u := range msg.users {
			if !strings.EqualFold(u.Username, p.exclude) {
				users = append(users, u)
			}
		}
		p.t.Set(users, userHay)
	case filterDoneMsg:
		if p.fresh(msg.tag) {
			p.t.ApplyFilter(msg.Filtered)
		}
	case tea.PasteMsg:
		if p.filter.typing {
			return p.filter.update(msg, k)
		}
	case mouseMsg:
		if i := tableMouse(&p.t, msg, 2); i >= 0 {
			return p.pick()
		}
	case tea.KeyPressMsg:
		if p.filter.typing {
			return p.filter.update(msg, k)
		}
		switch {
		case p.t.Navigate(msg, k.Keys):
		case key.Matches(msg, k.Filter):
			return p.filter.open()
		case key.Matches(msg, k.Enter):
			return p.pick()
		case key.Matches(msg, k.Back):
			return p.back()
		}
	}
	return nil
}

func (p *userPicker) pick() tea.Cmd {
	i, ok := p.t.Current()
	if !ok {
		return nil
	}
	return p.backWith(userPickedMsg{tag: p.forTag, name: p.t.Item(i).Username})
}

// View implements screen.
func (p *userPicker) View() string {
	st := p.sh.st
	lines := []string{st.heading.Render(visible.String(p.prompt))}
	switch {
	case p.filter.typing:
		lines = append(lines, p.filter.input.View())
	case p.t.Query() != "":
		lines = append(lines, st.dim.Render(fmt.Sprintf("Filter: %s  (%d of %d)", visible.String(p.filter.value()), p.t.Len(), p.t.Total())))
	default:
		lines = append(lines, st.dim.Render("/ to filter"))
	}
	switch {
	case p.err != "":
		return joinLines(append(lines, st.err.Render(glyphWarning+" "+visible.String(p.err))))
	case !p.loaded:
		return joinLines(append(lines, st.dim.Render("Loading users…")))
	case p.t.Len() == 0:
		return joinLines(append(lines, "No users match."))
	}
	from, to := p.t.Visible()
	for i := from; i < to; i++ {
		u := p.t.Item(p.t.At(i))
		text := pad(visible.String(u.Username), 20) + " " + pad(visible.String(u.DisplayName), 26) + " " + st.dim.Render(visible.String(kindText(u.Kind, u.Source)))
		lines = append(lines, rowLine(p.sh, i == p.t.Cursor(), text, p.width))
	}
	return joinLines(lines)
}

// kindText renders a record's kind and source.
func kindText(k store.Kind, source string) string {
	if k == store.External && source != "" {
		return "external · " + source
	}
	return string(k)
}

// rolesChosenMsg is the role picker's answer.
type rolesChosenMsg struct {
	tag   tag
	roles []store.Assignment
}

func (m rolesChosenMsg) target() tag { return m.tag }

// rolesLoadedMsg is the result of store.ListRoles.
type rolesLoadedMsg struct {
	tag   tag
	roles []store.Role
	err   error
}

func (m rolesLoadedMsg) target() tag { return m.tag }

// rolePicker sets the roles new entries get, each on a scope.
type rolePicker struct {
	base
	title   string // the breadcrumb; "Set roles" by default
	heading string // the line above the roles
	forTag  tag
	roles   []store.Role
	chosen  map[string]string // role → scope
	cursor  int
	scope   textinput.Model
	editing bool // the scope input has the focus
	loaded  bool
	err     string
}

func newRolePicker(sh *shared, current []store.Assignment, forTag tag) *rolePicker {
	p := &rolePicker{base: newBase(sh), forTag: forTag, chosen: map[string]string{},
		title: "Set roles", heading: "Role assignments: the roles new users and groups get"}
	for _, a := range current {
		p.chosen[a.Role] = a.Scope
	}
	p.scope = newInput(sh, "Scope for the roles you tick: ", store.GlobalScope)
	return p
}

// Title implements screen.
func (p *rolePicker) Title() string { return p.title }

// Init implements screen: load the roles.
func (p *rolePicker) Init() tea.Cmd {
	tg, _ := p.renew()
	st := p.sh.cfg.Store
	return func() tea.Msg {
		roles, err := st.ListRoles()
		return rolesLoadedMsg{tag: tg, roles: roles, err: err}
	}
}

func (p *rolePicker) restyle() { p.scope.SetStyles(p.sh.st.input) }

// Typing implements screen.
func (p *rolePicker) Typing() bool { return p.editing }

// SetSize implements screen.
func (p *rolePicker) SetSize(w, h int) {
	p.base.SetSize(w, h)
	p.scope.SetWidth(max(10, w-34))
}

// Help implements screen.
func (p *rolePicker) Help() helpMap {
	k := p.sh.keys
	if p.editing {
		return helpMap{short: []key.Binding{with(k.Enter, "done"), with(k.Tab, "roles")}}
	}
	return helpMap{short: []key.Binding{k.Up, k.Down, with(k.Toggle, "tick role"), with(k.Tab, "scope"), with(k.Enter, "done"), with(k.Back, "cancel")}}
}

func (p *rolePicker) scopeValue() string {
	s := strings.TrimSpace(p.scope.Value())
	if s == "" {
		return store.GlobalScope
	}
	return s
}

// Update implements screen.
func (p *rolePicker) Update(msg tea.Msg) tea.Cmd {
	k := &p.sh.keys
	switch msg := msg.(type) {
	case rolesLoadedMsg:
		if !p.fresh(msg.tag) {
			return nil
		}
		p.loaded = true
		if msg.err != nil {
			p.err = "Could not read the roles: " + msg.err.Error()
			return nil
		}
		p.roles = msg.roles
	case tea.PasteMsg:
		if p.editing {
			var cmd tea.Cmd
			p.scope, cmd = p.scope.Update(msg)
			return cmd
		}
	case mouseMsg:
		if i := p.first() + msg.y - 2; msg.kind == mouseClick && msg.y >= 2 && i < len(p.roles) {
			p.cursor = i
			p.toggle()
		}
	case tea.KeyPressMsg:
		if p.editing {
			switch {
			case key.Matches(msg, k.Enter), key.Matches(msg, k.Tab), key.Matches(msg, k.Back):
				p.editing = false
				p.scope.Blur()
				return nil
			}
			var cmd tea.Cmd
			p.scope, cmd = p.scope.Update(msg)
			return cmd
		}
		switch {
		case key.Matches(msg, k.Up):
			p.cursor = max(0, p.cursor-1)
		case key.Matches(msg, k.Down):
			p.cursor = min(len(p.roles)-1, p.cursor+1)
		case key.Matches(msg, k.Home):
			p.cursor = 0
		case key.Matches(msg, k.End):
			p.cursor = len(p.roles) - 1
		case key.Matches(msg, k.Toggle):
			p.toggle()
		case key.Matches(msg, k.Tab):
			p.editing = true
			return p.scope.Focus()
		case key.Matches(msg, k.Enter):
			return p.backWith(rolesChosenMsg{tag: p.forTag, roles: p.assignments()})
		case key.Matches(msg, k.Back):
			return p.back()
		}
	}
	return nil
}

func (p *rolePicker) toggle() {
	if p.cursor < 0 || p.cursor >= len(p.roles) {
		return
	}
	name := p.roles[p.cursor].Name
	if _, ok := p.chosen[name]; ok {
		delete(p.chosen, name)
		return
	}
	p.chosen[name] = p.scopeValue()
}

func (p *rolePicker) listHeight() int { return max(1, p.height-6) }

// first is the first role shown.
func (p *rolePicker) first() int { return max(0, p.cursor-p.listHeight()+1) }

// assignments lists the chosen roles in the roles' order.
func (p *rolePicker) assignments() []store.Assignment {
	var out []store.Assignment
	for _, r := range p.roles {
		if scope, ok := p.chosen[r.Name]; ok {
			out = append(out, store.Assignment{Role: r.Name, Scope: scope})
		}
	}
	return out
}

// View implements screen.
func (p *rolePicker) View() string {
	st := p.sh.st
	lines := []string{st.heading.Render(cut(visible.String(p.heading), p.width)), ""}
	switch {
	case p.err != "":
		return joinLines(append(lines, st.err.Render(glyphWarning+" "+visible.String(p.err))))
	case !p.loaded:
		return joinLines(append(lines, st.dim.Render("Loading roles…")))
	case len(p.roles) == 0:
		lines = append(lines, "The store has no roles yet: add one with 'usersync roles add'.")
	}
	from, listH := p.first(), p.listHeight()
	for i := from; i < len(p.roles) && i < from+listH; i++ {
		r := p.roles[i]
		box, scope := boxOff, ""
		if s, ok := p.chosen[r.Name]; ok {
			box, scope = boxOn, "@ "+s
		}
		text := box + " " + pad(visible.String(r.Name), 16) + " " + pad(visible.String(scope), 16) + " " + st.dim.Render(visible.String(r.Description))
		lines = append(lines, rowLine(p.sh, !p.editing && i == p.cursor, text, p.width))
	}
	lines = append(lines, "", p.scope.View(),
		st.dim.Render("Tab edits the scope (a plain name such as project-x; global when empty)."))
	return joinLines(lines)
}

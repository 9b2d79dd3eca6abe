package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// The items of the options screen.
const (
	optEnable = iota
	optRoles
	optCopy
	optContinue
	optCount
)

// optionsScreen is the wizard's options before importing: enable users
// after import, the roles new entries get, and a user to copy roles and
// assignments from.
type optionsScreen struct {
	base
	sess   *importSession
	cursor int
}

func newOptionsScreen(sh *shared, sess *importSession) *optionsScreen {
	return &optionsScreen{base: newBase(sh), sess: sess}
}

// Title implements screen.
func (s *optionsScreen) Title() string { return "Options" }

// Init implements screen.
func (s *optionsScreen) Init() tea.Cmd { return nil }

// Help implements screen.
func (s *optionsScreen) Help() helpMap {
	k := s.sh.keys
	enter := with(k.Enter, "summary")
	switch s.cursor {
	case optRoles:
		enter = with(k.Enter, "set roles")
	case optCopy:
		enter = with(k.Enter, "pick a user")
	}
	short := []key.Binding{k.Up, k.Down, with(k.Toggle, "change"), enter, with(k.Back, "results")}
	if s.cursor == optCopy && s.sess.req.CopyRolesFrom != "" {
		short = append(short, key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "clear")))
	}
	return helpMap{short: short}
}

// Update implements screen.
func (s *optionsScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case rolesChosenMsg:
		s.sess.req.Roles = msg.roles
	case userPickedMsg:
		s.sess.req.CopyRolesFrom = msg.name
	case mouseMsg:
		if msg.kind == mouseClick {
			if i, ok := s.itemAt(msg.y); ok {
				s.cursor = i
				return s.activate(true)
			}
		}
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up):
			s.cursor = max(0, s.cursor-1)
		case key.Matches(msg, k.Down), key.Matches(msg, k.Tab):
			s.cursor = min(optCount-1, s.cursor+1)
		case key.Matches(msg, k.Home):
			s.cursor = 0
		case key.Matches(msg, k.End):
			s.cursor = optCount - 1
		case key.Matches(msg, k.Toggle):
			return s.activate(true)
		case key.Matches(msg, k.Enter):
			return s.activate(false)
		case msg.String() == "x" || msg.String() == "backspace" || msg.String() == "delete":
			if s.cursor == optCopy {
				s.sess.req.CopyRolesFrom = ""
			}
		case key.Matches(msg, k.Back):
			return s.back()
		}
	}
	return nil
}

// activate acts on the item under the cursor. Space toggles the checkbox;
// Enter there moves on to the summary, as it does on Continue.
func (s *optionsScreen) activate(space bool) tea.Cmd {
	switch s.cursor {
	case optEnable:
		if space {
			s.sess.req.Enable = !s.sess.req.Enable
			return nil
		}
	case optRoles:
		return s.push(newRolePicker(s.sh, s.sess.req.Roles, s.tag()))
	case optCopy:
		return s.push(newUserPicker(s.sh, "Copy roles from", "Copy roles and assignments from which user?", "", s.tag()))
	}
	return s.push(newSummaryScreen(s.sh, s.sess))
}

// itemAt maps a body row to an item (see View's layout).
func (s *optionsScreen) itemAt(y int) (int, bool) {
	switch y {
	case 2, 3:
		return optEnable, true
	case 5, 6:
		return optRoles, true
	case 8, 9:
		return optCopy, true
	case 11:
		return optContinue, true
	}
	return 0, false
}

// View implements screen.
func (s *optionsScreen) View() string {
	st := s.sh.st
	o := &s.sess.req
	sel := len(s.sess.picked)
	lines := []string{
		st.heading.Render(fmt.Sprintf("Options for importing %s from %s", plural(sel, "entry", "entries"), s.sess.source.Name)),
		"",
	}
	item := func(i int, text, detail string) {
		lines = append(lines, rowLine(s.sh, s.cursor == i, text, s.width), "    "+st.dim.Render(visible.String(detail)))
	}
	box := boxOff
	if o.Enable {
		box = boxOn
	}
	enableDetail := "Off: new users are created disabled, pending review."
	if o.Enable {
		enableDetail = "On: new users can sign in at once (users disabled in the directory stay disabled)."
	}
	item(optEnable, box+" Enable users after import", enableDetail)
	lines = append(lines, "")
	roles := "none"
	if len(o.Roles) > 0 {
		roles = store.FormatAssignments(o.Roles)
	}
	item(optRoles, "Role assignments — Set roles…", "Assign roles to the user/group: "+roles)
	lines = append(lines, "")
	from := "nobody"
	if o.CopyRolesFrom != "" {
		from = o.CopyRolesFrom
	}
	item(optCopy, "Copy roles and assignments from…", "New users and groups also get the roles of: "+from)
	lines = append(lines, "")
	lines = append(lines, rowLine(s.sh, s.cursor == optContinue, "Continue to the summary ›", s.width))
	lines = append(lines, "", st.dim.Render("Entries imported before keep their role assignments unchanged."))
	return joinLines(lines)
}

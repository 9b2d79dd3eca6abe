package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/tui/visible"
)

// menuItem is one action of a menu and the message it answers with.
type menuItem struct {
	label    string
	msg      tea.Msg // tagged for the screen that opened the menu
	disabled string  // why it cannot be chosen now, if it cannot
}

// menuChoiceMsg tells the screen that opened a menu which item was chosen.
type menuChoiceMsg struct {
	tag    tag
	action string
}

func (m menuChoiceMsg) target() tag { return m.tag }

// menuScreen is a record's action menu (m or . on a row or a card).
type menuScreen struct {
	base
	title  string
	items  []menuItem
	cursor int
	note   string
}

func newMenu(sh *shared, title string, items []menuItem) *menuScreen {
	return &menuScreen{base: newBase(sh), title: title, items: items}
}

// Title implements screen.
func (s *menuScreen) Title() string { return "Actions" }

// Init implements screen.
func (s *menuScreen) Init() tea.Cmd { return nil }

// Help implements screen.
func (s *menuScreen) Help() helpMap {
	k := s.sh.keys
	return helpMap{short: []key.Binding{k.Up, k.Down, with(k.Enter, "choose"), with(k.Back, "close")}}
}

// Update implements screen.
func (s *menuScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case mouseMsg:
		if i := msg.y - 2; msg.kind == mouseClick && i >= 0 && i < len(s.items) {
			s.cursor = i
			return s.choose()
		}
	case tea.KeyPressMsg:
		s.note = ""
		switch {
		case key.Matches(msg, k.Up):
			s.cursor = max(0, s.cursor-1)
		case key.Matches(msg, k.Down):
			s.cursor = min(len(s.items)-1, s.cursor+1)
		case key.Matches(msg, k.Enter), key.Matches(msg, k.Toggle):
			return s.choose()
		case key.Matches(msg, k.Back), key.Matches(msg, k.Menu):
			return s.back()
		}
	}
	return nil
}

func (s *menuScreen) choose() tea.Cmd {
	if s.cursor < 0 || s.cursor >= len(s.items) {
		return nil
	}
	it := s.items[s.cursor]
	if it.disabled != "" {
		s.note = it.disabled
		return nil
	}
	return s.backWith(it.msg)
}

// View implements screen.
func (s *menuScreen) View() string {
	st := s.sh.st
	lines := []string{st.heading.Render(visible.String(s.title)), ""}
	for i, it := range s.items {
		// A disabled item looks disabled without colour too: the mark of
		// what is not available, and why.
		text := visible.String(it.label)
		if it.disabled != "" {
			text = st.dim.Render(glyphBlocked + " " + visible.String(it.label) + " — not available")
		}
		lines = append(lines, rowLine(s.sh, i == s.cursor, text, min(s.width, 60)))
	}
	if s.note != "" {
		lines = append(lines, "", st.warn.Render(glyphWarning+" "+visible.String(s.note)))
	}
	return joinLines(lines)
}

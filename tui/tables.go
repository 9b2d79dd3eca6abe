package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/tui/list"
)

// Every list of the app is a list.Table; these tie one to the app's
// messages: its filters run in commands and come back tagged, and the
// mouse reaches it in the body's coordinates.

// filterDoneMsg carries a table's filtered view back to its screen.
type filterDoneMsg struct {
	tag   tag
	table string // which of the screen's tables
	list.Filtered
}

func (m filterDoneMsg) target() tag { return m.tag }

// filterCmd asks for t's view matching query, computed in a command over
// the items present now; the screen passes the result to t.ApplyFilter.
func filterCmd[T any](t *list.Table[T], tg tag, name, query string) tea.Cmd {
	f := t.Filter(query)
	return func() tea.Msg { return filterDoneMsg{tag: tg, table: name, Filtered: f()} }
}

// tableMouse handles a click (on body row y, where the table's first row
// is at top) and the wheel. It returns the view position clicked, or -1.
func tableMouse[T any](t *list.Table[T], msg mouseMsg, top int) int {
	switch msg.kind {
	case mouseWheelUp:
		t.Scroll(-3)
	case mouseWheelDown:
		t.Scroll(3)
	case mouseClick:
		return t.Click(msg.y, top)
	}
	return -1
}

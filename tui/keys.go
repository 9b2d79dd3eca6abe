package tui

import (
	"charm.land/bubbles/v2/key"

	"github.com/usersync/usersync/tui/list"
)

// keyMap holds every binding of the app. The same key means the same thing
// on every screen; a screen lists the bindings it uses in its help.
type keyMap struct {
	// Keys are the movement keys every list and pager shares: Up, Down,
	// PageUp, PageDown, Home, End.
	list.Keys
	// Move is ↑ and ↓ as one item of the help line.
	Move key.Binding

	Toggle    key.Binding // space
	SelectAll key.Binding // a
	Filter    key.Binding // /
	Enter     key.Binding
	Back      key.Binding // esc
	Quit      key.Binding // q, ctrl+c
	Help      key.Binding // ?
	Tab       key.Binding // next tab or focus
	ShiftTab  key.Binding

	Import key.Binding // i: the import wizard
	Menu   key.Binding // m or .: a record's action menu
	Diff   key.Binding // d or →: the difference a synchronize row would make
	Save   key.Binding // s: save the completion report
	Sync   key.Binding // s: synchronize the group shown
	Copy   key.Binding // c: copy roles and assignments from another user
	Yank   key.Binding // y: copy the summary's command line to the clipboard
	Yes    key.Binding // y in confirmations
	No     key.Binding // n in confirmations

	Tab1, Tab2, Tab3, Tab4 key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Keys: list.Keys{
			Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
			Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
			PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
			PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
			Home:     key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "first")),
			End:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "last")),
		},
		Move:      key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑↓", "move")),
		Toggle:    key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "toggle")),
		SelectAll: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "select all/none")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Enter:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Tab:       key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next")),
		ShiftTab:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous")),
		Import:    key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "import")),
		Menu:      key.NewBinding(key.WithKeys("m", "."), key.WithHelp("m/.", "actions")),
		Diff:      key.NewBinding(key.WithKeys("d", "right"), key.WithHelp("d/→", "differences")),
		Save:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save report")),
		Sync:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "synchronize")),
		Copy:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy roles from…")),
		Yank:      key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy command")),
		Yes:       key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		No:        key.NewBinding(key.WithKeys("n", "N"), key.WithHelp("n", "no")),
		Tab1:      key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "all users")),
		Tab2:      key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "internal")),
		Tab3:      key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "external")),
		Tab4:      key.NewBinding(key.WithKeys("4"), key.WithHelp("4", "user groups")),
	}
}

// navKeys are the movement bindings every list shares, for full help.
func (k keyMap) navKeys() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End}
}

// with returns a copy of b showing desc in the help.
func with(b key.Binding, desc string) key.Binding {
	h := b.Help()
	b.SetHelp(h.Key, desc)
	return b
}

// helpMap is the help of one screen: a short line and the full columns.
// tail, filled in by the root model, ends the short line and is never cut:
// the way back, the help and the way out.
type helpMap struct {
	short []key.Binding
	full  [][]key.Binding
	tail  []key.Binding
}

// ShortHelp implements help.KeyMap.
func (h helpMap) ShortHelp() []key.Binding { return h.short }

// FullHelp implements help.KeyMap.
func (h helpMap) FullHelp() [][]key.Binding {
	if h.full == nil {
		return [][]key.Binding{h.short}
	}
	return h.full
}

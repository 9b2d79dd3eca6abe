package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// filterBox is a list's filter, one component for every screen that has
// one (the Users app's search, the user picker, the search results'
// filter): / opens it (open), what is typed filters the list at once (the
// screen's refilter, which runs the filter in a command), ↑/↓ still move
// the list (move), Enter keeps the filter and gives the keys back to the
// list, Esc clears it and gives them back too.
type filterBox struct {
	input textinput.Model
	// typing is set while the box has the keys.
	typing   bool
	refilter func(q string) tea.Cmd
	move     func(tea.KeyPressMsg)
}

func newFilterBox(sh *shared, prompt, placeholder string, refilter func(string) tea.Cmd, move func(tea.KeyPressMsg)) filterBox {
	return filterBox{input: newInput(sh, prompt, placeholder), refilter: refilter, move: move}
}

// open gives the box the keys.
func (f *filterBox) open() tea.Cmd {
	f.typing = true
	return f.input.Focus()
}

// close gives the keys back to the list, keeping the filter.
func (f *filterBox) close() {
	f.typing = false
	f.input.Blur()
}

// value is the filter's text.
func (f *filterBox) value() string { return f.input.Value() }

// clear empties the filter and shows every row again.
func (f *filterBox) clear() tea.Cmd {
	f.input.SetValue("")
	return f.refilter("")
}

// update handles a message while the box has the keys.
func (f *filterBox) update(msg tea.Msg, k *keyMap) tea.Cmd {
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, k.Enter):
			f.close()
			return nil
		case key.Matches(kp, k.Back):
			f.close()
			return f.clear()
		case kp.String() == "up" || kp.String() == "down":
			f.move(kp)
			return nil
		}
	}
	before := f.input.Value()
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	if f.input.Value() != before {
		return tea.Batch(cmd, f.refilter(f.input.Value()))
	}
	return cmd
}

// help is the box's help while it has the keys; noun is what the screen
// calls it (filter, search).
func (f *filterBox) help(k keyMap, noun string) []key.Binding {
	return []key.Binding{with(k.Enter, "keep "+noun), with(k.Back, "clear "+noun)}
}

package tui

import (
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Typing on a list. The search results and the Entra group chooser have a
// search box above a list whose keys include letters (a: select all, d:
// differences, j/k/g/G: move). Someone who believes the box has the focus
// types a name there; the list must not take it for commands. So, on
// these lists:
//
//   - a printable key that is no list key (n, b, 7, *, …) and Backspace go
//     to the search box, which takes the focus;
//   - a letter that is a list key acts at once (a ticks every row), but
//     when a key of the first kind follows within typingWindow, the run of
//     letters was the start of a name: what they did is undone and they go
//     to the search box with the rest ("andb" types andb, it ticks
//     nothing);
//   - d (which opens a screen), q (quit) and ? (help), which could not be
//     undone, wait diffDelay before they act: a key that comes first
//     cancels them, and a name they start goes to the search box (the root
//     leaves q and ? to a list that claims them: claimsListLetter).

// typingWindow is how soon the next key must come for a run of letters to
// be typing.
const typingWindow = time.Second

// diffDelay is how long d, q and ? wait on a list for more letters
// before they act.
const diffDelay = 350 * time.Millisecond

// typeaheadMax bounds a run: longer runs of list letters are not a name.
const typeaheadMax = 8

// typeahead is a run of list letters that may yet turn out to be typing.
type typeahead struct {
	text []rune
	undo []func()
	last time.Time
	now  func() time.Time
}

func newTypeahead() typeahead { return typeahead{now: time.Now} }

// fresh reports whether a run is going on: its last letter came within
// typingWindow.
func (t *typeahead) fresh() bool {
	return len(t.text) > 0 && t.now().Sub(t.last) <= typingWindow
}

// acted records that the list letter r acted; undo reverses what it did
// (nil when there is nothing to reverse).
func (t *typeahead) acted(r rune, undo func()) {
	if !t.fresh() {
		t.reset()
	}
	if len(t.text) == typeaheadMax {
		t.text, t.undo = t.text[1:], t.undo[1:]
	}
	t.text = append(t.text, r)
	t.undo = append(t.undo, undo)
	t.last = t.now()
}

// typed returns what goes to the search box for text, which no list key
// takes: the run before it (whose actions it undoes, newest first) and
// text.
func (t *typeahead) typed(text string) string {
	run := ""
	if t.fresh() {
		for i := len(t.undo) - 1; i >= 0; i-- {
			if t.undo[i] != nil {
				t.undo[i]()
			}
		}
		run = string(t.text)
	}
	t.reset()
	return run + text
}

// reset ends the run: a key that is not a letter (an arrow, Space, Enter)
// means the list is being used.
func (t *typeahead) reset() { t.text, t.undo = nil, nil }

// onList routes a key typed on the list r: a list letter that moves or
// selects all acts at once (undoably); any other printable key but the
// filter key is the start of a name, and typed is what goes to the search
// box. handled is false for the keys it leaves to the screen.
func (t *typeahead) onList(msg tea.KeyPressMsg, k *keyMap, r *results) (typed string, handled bool) {
	text := printable(msg)
	switch {
	case text != "" && key.Matches(msg, k.Up, k.Down, k.Home, k.End):
		undo := r.t.Mark()
		r.t.Navigate(msg, k.Keys)
		t.acted([]rune(text)[0], undo)
		return "", true
	case text != "" && key.Matches(msg, k.SelectAll):
		t.acted('a', r.SelectAll())
		return "", true
	case text != "" && !key.Matches(msg, k.Filter):
		return t.typed(text), true
	}
	return "", false
}

// printable returns the text a key types, "" for a key that types nothing
// (arrows, Enter, Space, keys with ctrl or alt).
func printable(msg tea.KeyPressMsg) string {
	if msg.Text == "" || msg.Text == " " || msg.Mod&(tea.ModCtrl|tea.ModAlt|tea.ModSuper) != 0 {
		return ""
	}
	return msg.Text
}

package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// pickList is the wizard's one streaming list, whatever the source: a
// search box above the rows of a search that streams in batches, each
// batch classified against the store, ticked with Space, with the typing
// rules of wizard_typeahead.go. The LDAP search screen and the Entra group
// chooser are this list with their own way to list rows (list) and their
// own keys around it; a source kind is a list function and its words.
type pickList struct {
	sh      *shared
	box     textinput.Model
	results *results
	ahead   typeahead
	// source is the store source rows are classified for; list streams
	// the rows matching a query.
	source string
	list   func(ctx context.Context, q string, fn func(directory.Entry) error) error
	// done, when set, is called when a listing ends (to stop watching
	// Graph's throttling).
	done func()

	stream      *searchStream
	query       string // the query of the rows shown
	searching   bool
	complete    bool // the listing ended without error
	err         error
	classifyErr string
	// pending is a list letter that waits for more letters before it acts
	// (it opens a screen, quits or shows the help: nothing that could be
	// undone if it turned out to start a name); pendingN numbers it.
	pending  rune
	pendingN uint64
}

func newPickList(sh *shared, source, placeholder string, list func(context.Context, string, func(directory.Entry) error) error) pickList {
	p := pickList{sh: sh, results: newResults(sh), ahead: newTypeahead(), source: source, list: list}
	p.box = newInput(sh, "Search: ", placeholder)
	return p
}

// searchStream carries a running search's entries from the directory's
// goroutine to the commands that batch them.
type searchStream struct {
	ch   chan directory.Entry
	done chan error // the search's outcome, sent before ch is closed
}

// batchMsg is a batch of streamed results, classified against the store.
type batchMsg struct {
	tag         tag
	rows        []resultRow
	done        bool  // the search has ended
	err         error // why it ended badly (done only)
	classifyErr error
}

func (m batchMsg) target() tag { return m.tag }

// letterDueMsg makes a pending list letter act, unless a key came since
// (n is the letter's number).
type letterDueMsg struct {
	screen screenID
	n      uint64
	letter rune
}

func (m letterDueMsg) target() tag { return tag{m.screen, m.n} }

// Streaming: a batch is sent when this many rows arrived, or this long
// after its first row, whichever comes first.
const (
	batchRows  = 5000
	batchDelay = 40 * time.Millisecond
)

// start lists the rows matching q under the request (tg, ctx); the rows
// shown are cleared, the ticks kept in keep (nil: cleared too).
func (p *pickList) start(tg tag, ctx context.Context, q string, keep map[string]struct{}) tea.Cmd {
	p.query = q
	p.results.Reset()
	if keep != nil {
		p.results.selected = keep
	}
	p.searching, p.complete = true, false
	p.err, p.classifyErr = nil, ""
	stream := &searchStream{ch: make(chan directory.Entry, 4*batchRows), done: make(chan error, 1)}
	p.stream = stream
	list, st, source, done := p.list, p.sh.cfg.Store, p.source, p.done
	return func() tea.Msg {
		go func() {
			err := list(ctx, q, func(e directory.Entry) error {
				select {
				case stream.ch <- e:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if done != nil {
				done()
			}
			stream.done <- err
			close(stream.ch)
		}()
		return nextBatch(ctx, tg, st, source, stream)()
	}
}

// nextBatch waits for the next rows of a search and classifies them.
func nextBatch(ctx context.Context, tg tag, st *store.Store, source string, stream *searchStream) tea.Cmd {
	return func() tea.Msg {
		var entries []directory.Entry
		closed := false
		select {
		case e, ok := <-stream.ch:
			if !ok {
				closed = true
			} else {
				entries = append(entries, e)
			}
		case <-ctx.Done():
			return batchMsg{tag: tg, done: true, err: ctx.Err()}
		}
		if !closed {
			timer := time.NewTimer(batchDelay)
		collect:
			for len(entries) < batchRows {
				select {
				case e, ok := <-stream.ch:
					if !ok {
						closed = true
						break collect
					}
					entries = append(entries, e)
				case <-timer.C:
					break collect
				}
			}
			timer.Stop()
		}
		msg := batchMsg{tag: tg, rows: make([]resultRow, len(entries))}
		if len(entries) > 0 {
			var statuses []store.Status
			statuses, msg.classifyErr = st.Classify(source, entries)
			for i, e := range entries {
				msg.rows[i] = resultRow{e: e}
				if msg.classifyErr == nil && i < len(statuses) {
					msg.rows[i].s, msg.rows[i].checked = statuses[i], true
				}
			}
		}
		if closed {
			msg.done, msg.err = true, <-stream.done
		}
		return msg
	}
}

// onBatch adds a batch of the current request (ctx, tg) and asks for the
// next one while the listing goes on.
func (p *pickList) onBatch(msg batchMsg, ctx context.Context) tea.Cmd {
	p.results.Append(msg.rows)
	if msg.classifyErr != nil && p.classifyErr == "" {
		p.classifyErr = "Could not check the rows against the store: " + msg.classifyErr.Error()
	}
	if !msg.done {
		return nextBatch(ctx, msg.tag, p.sh.cfg.Store, p.source, p.stream)
	}
	p.searching = false
	if msg.err != nil && !errors.Is(msg.err, context.Canceled) {
		p.err = msg.err
		return nil
	}
	p.complete = msg.err == nil
	return nil
}

// What a click or the wheel hit on a list screen.
type listHit int

const (
	hitNothing   listHit = iota
	hitBox               // the search box (body row 0)
	hitSelectAll         // the "Select all" line: every row ticked
	hitRow               // a row: the cursor is on it (ticked when on its checkbox)
)

// mouse handles a click or the wheel on the search box, the "Select all"
// line and the rows, which start at body row top.
func (p *pickList) mouse(msg mouseMsg, top int) listHit {
	switch {
	case msg.kind == mouseClick && msg.y == 0:
		return hitBox
	case msg.kind == mouseClick && msg.y == top-1:
		p.results.SelectAll()
		return hitSelectAll
	}
	if tableMouse(&p.results.t, msg, top) < 0 {
		return hitNothing
	}
	if msg.x < resultsBoxEnd { // on the checkbox
		p.results.Toggle()
	}
	return hitRow
}

// failed reports whether the listing ended with an error.
func (p *pickList) failed() bool { return p.err != nil }

// boxLine is the search box: with the cursor mark and the text cursor
// when it has the focus, dim text (or idle, when empty) otherwise. The
// focus is unmistakable: the list's cursor row is highlighted only when
// the list has the keys.
func (p *pickList) boxLine(focused bool, idle string, w int) string {
	if focused {
		return glyphCursor + " " + p.box.View()
	}
	q := visible.String(p.box.Value())
	if q == "" && idle != "" {
		q = idle
	}
	return "  " + p.sh.st.dim.Render(cut(p.box.Prompt+q, w-2))
}

// typeInBox starts a new search text with text: the box takes the focus
// (the screen's focus follows: it calls this when its box is focused).
func (p *pickList) typeInBox(text string) tea.Cmd {
	p.ahead.reset()
	p.box.SetValue(text)
	p.box.CursorEnd()
	return p.box.Focus()
}

// header is the line above the rows, with how many are ticked.
func (p *pickList) header(text string, ticked, w int) string {
	if ticked > 0 {
		sel := fmt.Sprintf("%d selected", ticked)
		text = pad(text, max(0, w-len(sel)-1)) + " " + p.sh.st.selected.Render(sel)
	}
	return p.sh.st.heading.Render(cut(text, w))
}

// selectAllLine is the "Select all" line above the rows.
func (p *pickList) selectAllLine(all bool, skips string) string {
	box := boxOff
	if all {
		box = boxOn
	}
	return "    " + box + " Select all" + p.sh.st.dim.Render("  ("+skips+")")
}

// rowsView renders the visible rows, the cursor row marked when focused.
func (p *pickList) rowsView(w int, focused bool) []string {
	if rows := p.results.View(w, focused); rows != "" {
		return strings.Split(rows, "\n")
	}
	return nil
}

// where is the footer's "row N of M", with the whole action of the row
// under the cursor when its column cuts it.
func (p *pickList) where(noun string, w int) string {
	r := p.results
	line := fmt.Sprintf("  %s %d of %d", noun, min(r.t.Cursor()+1, r.t.Len()), r.t.Len())
	if a := r.cutAction(w); a != "" {
		line += " · " + a
	}
	return p.sh.st.dim.Render(cut(line, w))
}

// onListKey routes a printable key typed on the list (see wizard_typeahead.go):
// a list letter that moves or selects all acts at once, undoably; a letter
// in waiting (which the screen acts on when its letterDueMsg arrives)
// waits to see whether a name is being typed; any other printable key
// but the filter key starts a name, and typed is what goes to the search
// box. handled is false for the keys the screen handles itself.
func (p *pickList) onListKey(msg tea.KeyPressMsg, id screenID, waiting string) (typed string, cmd tea.Cmd, handled bool) {
	p.pending = 0 // a key cancels a letter that waits
	text := printable(msg)
	if text != "" && len([]rune(text)) == 1 && strings.ContainsRune(waiting, []rune(text)[0]) {
		r := []rune(text)[0]
		p.ahead.acted(r, nil)
		p.pending = r
		p.pendingN++
		n := p.pendingN
		return "", tea.Tick(diffDelay, func(time.Time) tea.Msg { return letterDueMsg{screen: id, n: n, letter: r} }), true
	}
	typed, handled = p.ahead.onList(msg, &p.sh.keys, p.results)
	return typed, nil, handled
}

// typed cancels a letter that waits and returns what goes to the search
// box for text, which no list key takes: the run of letters before it
// (the waiting one included) and text.
func (p *pickList) typed(text string) string {
	p.pending = 0
	return p.ahead.typed(text)
}

// due reports whether a letterDueMsg is for the letter still waiting, and
// forgets it.
func (p *pickList) due(msg letterDueMsg) bool {
	if msg.n != p.pendingN || p.pending != msg.letter {
		return false
	}
	p.pending = 0
	p.ahead.reset()
	return true
}

// listLetters are the letters that wait on every list: q (quit) and ?
// (help) would act at once anywhere else, but on a list they may start a
// name typed for a new search.
const listLetters = "q?"

// claimsListLetter reports whether msg is one of listLetters, which the
// root would take (q quits, ? shows the help) but a focused list claims.
func claimsListLetter(msg tea.KeyPressMsg) bool {
	t := printable(msg)
	return t != "" && strings.Contains(listLetters, t)
}

// actOnLetter does what a list letter that waited does when no name
// followed it: q quits, ? toggles the help.
func (b *base) actOnLetter(letter rune) tea.Cmd {
	switch letter {
	case 'q':
		return b.quit()
	case '?':
		return b.navigate(nav{kind: navHelp})
	}
	return nil
}

package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// searchHint is the search box's placeholder, in the product's words.
const searchHint = "Search by username or group name"

// The search screen's focus.
type searchFocus int

const (
	focusSearchBox searchFocus = iota
	focusResults
	focusFilter
)

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

// refreshMsg asks a screen to reload what it shows (after a run changed
// the store).
type refreshMsg struct{ note string }

// Streaming: a batch is sent when this many rows arrived, or this long
// after its first row, whichever comes first.
const (
	batchRows  = 5000
	batchDelay = 40 * time.Millisecond
)

// searchScreen is the wizard's search box and results: rows appear while
// the search streams, each saying what selecting it does.
type searchScreen struct {
	base
	sess    *importSession
	input   textinput.Model
	filter  textinput.Model
	focus   searchFocus
	results *results

	query       string // the query of the results shown, as typed
	searching   bool
	complete    bool   // the search ended without error
	searchErr   string // shown under the search box
	classifyErr string
	note        string // a short message under the list
	stream      *searchStream

	// ahead tells a name typed on the list from the list's letter keys;
	// diffPending is set while d waits (diffN is its number).
	ahead       typeahead
	diffPending bool
	diffN       uint64
}

func newSearchScreen(sh *shared, sess *importSession) *searchScreen {
	s := &searchScreen{base: newBase(sh), sess: sess, results: newResults(sh), ahead: newTypeahead()}
	sess.home = s.ID()
	sess.begin("")
	s.input = newInput(sh, "Search: ", searchHint)
	s.input.CharLimit = 1024
	s.filter = newInput(sh, "Filter: ", "name, display name or email")
	return s
}

// Title implements screen.
func (s *searchScreen) Title() string { return s.sess.source.Name }

// Init implements screen.
func (s *searchScreen) Init() tea.Cmd { return s.input.Focus() }

// Close implements screen: stop the search and close the directory.
func (s *searchScreen) Close() {
	s.base.Close()
	if s.sess.dir != nil {
		s.sess.dir.Close()
	}
}

func (s *searchScreen) restyle() {
	s.input.SetStyles(s.sh.st.input)
	s.filter.SetStyles(s.sh.st.input)
}

// Typing implements screen.
func (s *searchScreen) Typing() bool { return s.focus != focusResults }

// list layout: the rows start under the search box, its hint, the header
// and the "Select all" line.
const resultsTop = 4

// resultsBoxEnd is the column after a row's checkbox: a click left of it
// ticks the row.
const resultsBoxEnd = 7

// SetSize implements screen.
func (s *searchScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.input.SetWidth(max(10, w-12))
	s.filter.SetWidth(max(10, w-30))
	s.results.t.SetHeight(h - resultsTop - 2) // footer: filter/note, legend
}

// Help implements screen.
func (s *searchScreen) Help() helpMap {
	k := s.sh.keys
	switch s.focus {
	case focusSearchBox:
		short := []key.Binding{with(k.Enter, "search")}
		if s.results.t.Total() > 0 {
			short = append(short, with(k.Tab, "results"))
		}
		return helpMap{short: append(short, with(k.Back, "servers"))}
	case focusFilter:
		return helpMap{short: []key.Binding{with(k.Enter, "keep filter"), with(k.Back, "clear filter")}}
	}
	enter := s.enterHelp()
	short := []key.Binding{enter, with(k.Toggle, "tick"), with(k.SelectAll, "all"), k.Up, k.Down, with(k.Back, "search")}
	typing := key.NewBinding(key.WithKeys("n"), key.WithHelp("letters", "a new search"))
	full := [][]key.Binding{
		k.navKeys(),
		{k.Toggle, k.SelectAll, k.Filter, with(k.Diff, "differences (synchronize rows)")},
		{enter, with(k.Tab, "edit the search"), with(k.Back, "edit the search"), typing},
	}
	return helpMap{short: short, full: full}
}

// enterHelp says what Enter does on the row under the cursor: the options
// when rows are ticked, else the differences of a row to synchronize.
func (s *searchScreen) enterHelp() key.Binding {
	k := s.sh.keys
	r := s.results
	if n := len(r.selected); n > 0 {
		return with(k.Enter, fmt.Sprintf("options for the %d ticked", n))
	}
	row, ok := r.Current()
	switch {
	case !ok:
		return with(k.Enter, "nothing")
	case row.checked && row.s.State == store.StateImported:
		return with(k.Enter, "differences")
	case row.selectable():
		return with(k.Enter, "options (tick rows first)")
	}
	return with(k.Enter, "nothing (cannot be selected)")
}

// Update implements screen.
func (s *searchScreen) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case batchMsg:
		return s.onBatch(msg)
	case filterDoneMsg:
		if s.fresh(msg.tag) {
			s.results.t.ApplyFilter(msg)
		}
		return nil
	case refreshMsg:
		s.note = msg.note
		if s.query == "" {
			return nil
		}
		return s.search(s.query)
	case diffDueMsg:
		if msg.n != s.diffN || !s.diffPending {
			return nil // a key came since
		}
		s.diffPending = false
		s.ahead.reset()
		return s.openDiff()
	case mouseMsg:
		s.diffPending = false
		s.ahead.reset()
		return s.onMouse(msg)
	case tea.PasteMsg:
		if s.focus == focusResults {
			// Pasted text on the list is a search, as typed text is.
			return s.typeInBox(msg.Content)
		}
	case tea.KeyPressMsg:
		switch s.focus {
		case focusSearchBox:
			return s.keyInBox(msg)
		case focusFilter:
			return s.keyInFilter(msg)
		default:
			return s.keyInList(msg)
		}
	}
	// Other messages (cursor blinks, pastes) go to the focused input.
	return s.updateInput(msg)
}

func (s *searchScreen) updateInput(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch s.focus {
	case focusSearchBox:
		s.input, cmd = s.input.Update(msg)
	case focusFilter:
		before := s.filter.Value()
		s.filter, cmd = s.filter.Update(msg)
		if s.filter.Value() != before {
			return tea.Batch(cmd, s.results.t.FilterCmd(s.tag(), "results", s.filter.Value()))
		}
	}
	return cmd
}

func (s *searchScreen) focusOn(f searchFocus) tea.Cmd {
	s.focus = f
	s.input.Blur()
	s.filter.Blur()
	switch f {
	case focusSearchBox:
		return s.input.Focus()
	case focusFilter:
		return s.filter.Focus()
	}
	return nil
}

func (s *searchScreen) keyInBox(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	switch {
	case key.Matches(msg, k.Enter):
		q := strings.TrimSpace(s.input.Value())
		if q == "" {
			s.searchErr = "Type a username or group name (an*), or a raw LDAP filter starting with (."
			return nil
		}
		return s.search(q)
	case key.Matches(msg, k.Back):
		return s.back()
	case key.Matches(msg, k.Tab), key.Matches(msg, k.Down) && msg.String() == "down":
		if s.results.t.Total() > 0 {
			return s.focusOn(focusResults)
		}
		return nil
	}
	return s.updateInput(msg)
}

func (s *searchScreen) keyInFilter(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	switch {
	case key.Matches(msg, k.Enter):
		return s.focusOn(focusResults)
	case key.Matches(msg, k.Back):
		s.filter.SetValue("")
		cmd := s.results.t.FilterCmd(s.tag(), "results", "")
		return tea.Batch(s.focusOn(focusResults), cmd)
	case msg.String() == "up" || msg.String() == "down":
		s.results.t.Navigate(msg, k)
		return nil
	}
	return s.updateInput(msg)
}

func (s *searchScreen) keyInList(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	r := s.results
	s.note = ""
	s.diffPending = false // a key cancels a d that waits
	text := printable(msg)
	switch {
	case text == "d":
		// d opens a screen, which cannot be undone: it waits to see
		// whether a name is being typed.
		if row, ok := r.Current(); ok && row.checked && row.s.State == store.StateImported {
			s.ahead.acted('d', nil)
			s.diffPending = true
			s.diffN++
			n, id := s.diffN, s.ID()
			return tea.Tick(diffDelay, func(time.Time) tea.Msg { return diffDueMsg{screen: id, n: n} })
		}
		cmd := s.openDiff() // only a note: nothing to compare
		s.ahead.acted('d', func() { s.note = "" })
		return cmd
	case text != "":
		// A list letter acts; any other key starts a name: a new search
		// in the box, with the list letters just before it.
		if typed, ok := s.ahead.onList(msg, k, r); ok {
			if typed != "" {
				return s.typeInBox(typed)
			}
			return nil
		}
	case msg.String() == "backspace":
		s.ahead.reset()
		cmd := s.focusOn(focusSearchBox)
		return tea.Batch(cmd, s.updateInput(msg))
	}
	s.ahead.reset()
	switch {
	case r.t.Navigate(msg, k):
	case key.Matches(msg, k.Toggle):
		r.Toggle()
	case key.Matches(msg, k.Filter):
		return s.focusOn(focusFilter)
	case key.Matches(msg, k.Diff):
		return s.openDiff()
	case key.Matches(msg, k.Enter):
		if len(r.selected) > 0 {
			s.sess.pick(r.Selected(), s.complete && r.AllSelected())
			return s.push(newOptionsScreen(s.sh, s.sess))
		}
		if row, ok := r.Current(); ok && row.checked && row.s.State == store.StateImported {
			return s.openDiff()
		}
		s.note = "Tick rows with Space (or a for all), then press Enter for the import options."
	case key.Matches(msg, k.Tab):
		return s.focusOn(focusSearchBox)
	case key.Matches(msg, k.Back):
		if r.t.query != "" {
			s.filter.SetValue("")
			return r.t.FilterCmd(s.tag(), "results", "")
		}
		return s.focusOn(focusSearchBox)
	}
	return nil
}

// typeInBox starts a new search text with text: the box takes the focus.
func (s *searchScreen) typeInBox(text string) tea.Cmd {
	cmd := s.focusOn(focusSearchBox)
	s.input.SetValue(text)
	s.input.CursorEnd()
	s.searchErr = ""
	return cmd
}

func (s *searchScreen) openDiff() tea.Cmd {
	row, ok := s.results.Current()
	if !ok {
		return nil
	}
	if !row.checked || row.s.State != store.StateImported {
		s.note = fmt.Sprintf("%s was not imported before: there is nothing to compare.", row.e.Name)
		return nil
	}
	if row.e.Type == directory.TypeGroup {
		// What importing it does, with this import's options.
		return s.push(newGroupDiffScreen(s.sh, s.sess.dir, s.sess.req.Options(), row.e))
	}
	return s.push(newDiffScreen(s.sh, s.sess.source.Name, row.e))
}

func (s *searchScreen) onMouse(msg mouseMsg) tea.Cmd {
	switch {
	case msg.kind == mouseClick && msg.y == 0:
		return s.focusOn(focusSearchBox)
	case msg.kind == mouseClick && msg.y == resultsTop-1:
		s.results.SelectAll()
		return nil
	}
	p := s.results.t.Mouse(msg, resultsTop)
	if p >= 0 {
		cmd := s.focusOn(focusResults)
		if msg.x < resultsBoxEnd { // on the checkbox
			s.results.Toggle()
		}
		return cmd
	}
	return nil
}

// search starts a new search; the previous one is cancelled and its late
// batches dropped.
func (s *searchScreen) search(q string) tea.Cmd {
	tg, ctx := s.renew()
	s.query = q
	s.sess.begin(q)
	s.results.Reset()
	s.filter.SetValue("")
	s.searching, s.complete = true, false
	s.searchErr, s.classifyErr = "", ""
	stream := &searchStream{ch: make(chan directory.Entry, 4*batchRows), done: make(chan error, 1)}
	s.stream = stream
	dir, st, source := s.sess.dir, s.sh.cfg.Store, s.sess.source.Name
	start := func() tea.Msg {
		go func() {
			err := dir.Search(ctx, q, func(e directory.Entry) error {
				select {
				case stream.ch <- e:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			stream.done <- err
			close(stream.ch)
		}()
		return nextBatch(ctx, tg, st, source, stream)()
	}
	return tea.Batch(s.focusOn(focusResults), start)
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

func (s *searchScreen) onBatch(msg batchMsg) tea.Cmd {
	if !s.fresh(msg.tag) {
		return nil
	}
	s.results.Append(msg.rows)
	if msg.classifyErr != nil && s.classifyErr == "" {
		s.classifyErr = "Could not check the results against the store: " + msg.classifyErr.Error()
	}
	if msg.done {
		s.searching = false
		if msg.err != nil && !errors.Is(msg.err, context.Canceled) {
			s.searchErr = searchError(msg.err)
			if s.results.t.Total() == 0 {
				return s.focusOn(focusSearchBox)
			}
			return nil
		}
		s.complete = msg.err == nil
		if s.results.t.Total() == 0 && s.focus == focusResults {
			return s.focusOn(focusSearchBox)
		}
		return nil
	}
	tg, ctx := s.tag(), s.ctx
	return nextBatch(ctx, tg, s.sh.cfg.Store, s.sess.source.Name, s.stream)
}

// searchError says what went wrong with a search, and what to do.
func searchError(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, directory.ErrIncomplete):
		return "The search did not finish: " + msg + ". The results below are partial."
	}
	return "The search failed: " + msg
}

// header is the line above the results.
func (s *searchScreen) header() string {
	n := s.results.t.Total()
	q := fmt.Sprintf("%q", s.query)
	switch {
	case s.query == "":
		return ""
	case s.searching:
		return fmt.Sprintf("Searching… %s so far for %s", plural(n, "result", "results"), q)
	case n == 1:
		return fmt.Sprintf("Found 1 search result for %s", q)
	}
	return fmt.Sprintf("Found %d search results for %s", n, q)
}

// View implements screen.
func (s *searchScreen) View() string {
	st := s.sh.st
	w := s.width
	r := s.results
	lines := make([]string, 0, s.height)
	// The focus is unmistakable: the focused box has the cursor mark and
	// its text cursor; the list's cursor row is highlighted only when the
	// list has the keys, and the line under the box says which has them.
	if s.focus == focusSearchBox {
		lines = append(lines, glyphCursor+" "+s.input.View())
	} else {
		lines = append(lines, "  "+st.dim.Render(cut(s.input.Prompt+visible.String(s.input.Value()), w-2)))
	}
	switch {
	case s.searchErr != "":
		lines = append(lines, st.err.Render(cut(glyphWarning+" "+visible.String(s.searchErr), w)))
	case s.classifyErr != "":
		lines = append(lines, st.err.Render(cut(glyphWarning+" "+visible.String(s.classifyErr), w)))
	case s.focus == focusResults:
		lines = append(lines, st.accent.Render(cut("  Keys act on the list below (space ticks) · typing starts a new search", w)))
	default:
		lines = append(lines, st.dim.Render(cut("  "+searchHint+" · an* is a wildcard · (…) is a raw filter", w)))
	}
	header := s.header()
	if len(r.selected) > 0 {
		sel := fmt.Sprintf("%d selected", len(r.selected))
		header = pad(header, max(0, w-len(sel)-1)) + " " + st.selected.Render(sel)
	}
	lines = append(lines, st.heading.Render(cut(header, w)))
	if r.t.Total() == 0 {
		if s.query != "" && !s.searching && s.searchErr == "" {
			lines = append(lines, "", "  No entries match. Try a wildcard (an*) or another name.")
		}
		return joinLines(lines)
	}
	all := boxOff
	if r.AllSelected() {
		all = boxOn
	}
	lines = append(lines, "    "+all+" Select all"+st.dim.Render("  (skips blocked rows)"))
	if rows := r.View(w, s.focus != focusSearchBox); rows != "" {
		lines = append(lines, strings.Split(rows, "\n")...)
	}
	for len(lines) < resultsTop+r.t.height {
		lines = append(lines, "")
	}
	// Footer: the filter, or a note, or where we are in the list.
	switch {
	case s.focus == focusFilter || r.t.query != "":
		info := fmt.Sprintf("  %d of %d shown", r.t.Len(), r.t.Total())
		lines = append(lines, s.filterLine()+st.dim.Render(info))
	case s.note != "":
		lines = append(lines, st.accent.Render(cut(visible.String(s.note), w)))
	default:
		lines = append(lines, st.dim.Render(fmt.Sprintf("  row %d of %d", min(r.t.cursor+1, r.t.Len()), r.t.Len())))
	}
	lines = append(lines, r.legend(w, false))
	return joinLines(lines)
}

func (s *searchScreen) filterLine() string {
	if s.focus == focusFilter {
		return s.filter.View()
	}
	return "Filter: " + visible.String(s.filter.Value())
}

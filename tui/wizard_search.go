package tui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
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

// refreshMsg asks a screen to reload what it shows (after a run changed
// the store).
type refreshMsg struct{ note string }

// searchScreen is the wizard's search box and results: rows appear while
// the search streams, each saying what selecting it does.
type searchScreen struct {
	base
	sess   *importSession
	list   pickList  // the search box and the streaming results
	filter filterBox // narrows the results shown, without a new search
	focus  searchFocus

	searchErr string // a query that cannot be searched, under the box
	note      string // a short message under the list
}

func newSearchScreen(sh *shared, sess *importSession) *searchScreen {
	s := &searchScreen{base: newBase(sh), sess: sess}
	s.list = newPickList(sh, sess.source.Name, searchHint, sess.dir.Search)
	sess.homeID = s.ID()
	sess.begin("")
	s.list.box.CharLimit = 1024
	s.filter = newFilterBox(sh, "Filter: ", "name, display name or email",
		func(q string) tea.Cmd { return filterCmd(&s.list.results.t, s.tag(), "results", q) },
		func(msg tea.KeyPressMsg) { s.list.results.t.Navigate(msg, s.sh.keys.Keys) })
	return s
}

// Title implements screen.
func (s *searchScreen) Title() string { return s.sess.source.Name }

// Init implements screen.
func (s *searchScreen) Init() tea.Cmd { return s.list.box.Focus() }

// Close implements screen: stop the search and close the directory.
func (s *searchScreen) Close() {
	s.base.Close()
	if s.sess.dir != nil {
		s.sess.dir.Close()
	}
}

func (s *searchScreen) restyle() {
	s.list.box.SetStyles(s.sh.st.input)
	s.filter.input.SetStyles(s.sh.st.input)
}

// Typing implements screen.
func (s *searchScreen) Typing() bool { return s.focus != focusResults }

// claims implements claimer: on the list, q and ? may start a name.
func (s *searchScreen) claims(msg tea.KeyPressMsg) bool {
	return s.focus == focusResults && claimsListLetter(msg)
}

// list layout: the rows start under the search box, its hint, the header
// and the "Select all" line.
const resultsTop = 4

// resultsBoxEnd is the column after a row's checkbox: a click left of it
// ticks the row.
const resultsBoxEnd = 7

// SetSize implements screen.
func (s *searchScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.list.box.SetWidth(max(10, w-12))
	s.filter.input.SetWidth(max(10, w-30))
	s.list.results.t.SetHeight(h - resultsTop - 2) // footer: filter/note, legend
}

// Help implements screen.
func (s *searchScreen) Help() helpMap {
	k := s.sh.keys
	switch s.focus {
	case focusSearchBox:
		short := []key.Binding{with(k.Enter, "search")}
		if s.list.results.t.Total() > 0 {
			short = append(short, with(k.Tab, "results"))
		}
		return helpMap{short: append(short, with(k.Back, "servers"))}
	case focusFilter:
		return helpMap{short: s.filter.help(k, "filter")}
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
	r := s.list.results
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
			s.list.results.t.ApplyFilter(msg.Filtered)
		}
		return nil
	case refreshMsg:
		s.note = msg.note
		if s.list.query == "" {
			return nil
		}
		return s.search(s.list.query)
	case letterDueMsg:
		if !s.list.due(msg) {
			return nil // a key came since
		}
		if msg.letter == 'd' {
			return s.openDiff()
		}
		return s.actOnLetter(msg.letter)
	case mouseMsg:
		s.list.pending = 0
		s.list.ahead.reset()
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
		s.list.box, cmd = s.list.box.Update(msg)
	case focusFilter:
		return s.keyInFilter(msg)
	}
	return cmd
}

func (s *searchScreen) focusOn(f searchFocus) tea.Cmd {
	s.focus = f
	s.list.box.Blur()
	s.filter.close()
	switch f {
	case focusSearchBox:
		return s.list.box.Focus()
	case focusFilter:
		return s.filter.open()
	}
	return nil
}

func (s *searchScreen) keyInBox(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	switch {
	case key.Matches(msg, k.Enter):
		q := strings.TrimSpace(s.list.box.Value())
		if q == "" {
			s.searchErr = "Type a username or group name (an*), or a raw LDAP filter starting with (."
			return nil
		}
		return s.search(q)
	case key.Matches(msg, k.Back):
		return s.back()
	case key.Matches(msg, k.Tab), key.Matches(msg, k.Down) && msg.String() == "down":
		if s.list.results.t.Total() > 0 {
			return s.focusOn(focusResults)
		}
		return nil
	}
	return s.updateInput(msg)
}

// keyInFilter hands a message to the filter; when it gives the keys
// back (Enter keeps the filter, Esc clears it), the list has them.
func (s *searchScreen) keyInFilter(msg tea.Msg) tea.Cmd {
	cmd := s.filter.update(msg, &s.sh.keys)
	if !s.filter.typing {
		s.focus = focusResults
	}
	return cmd
}

func (s *searchScreen) keyInList(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	r := s.list.results
	s.note = ""
	// d opens a screen, q quits and ? shows the help: none can be undone
	// if the letter starts a name, so they wait for more letters. Other
	// list letters act at once; any other printable key starts a name: a
	// new search in the box, with the list letters just before it.
	if typed, cmd, ok := s.list.onListKey(msg, s.ID(), listLetters+"d"); ok {
		if typed != "" {
			return s.typeInBox(typed)
		}
		return cmd
	}
	if msg.String() == "backspace" {
		s.list.ahead.reset()
		cmd := s.focusOn(focusSearchBox)
		return tea.Batch(cmd, s.updateInput(msg))
	}
	s.list.ahead.reset()
	switch {
	case r.t.Navigate(msg, k.Keys):
	case key.Matches(msg, k.Toggle):
		r.Toggle()
	case key.Matches(msg, k.Filter):
		return s.focusOn(focusFilter)
	case key.Matches(msg, k.Diff):
		return s.openDiff()
	case key.Matches(msg, k.Enter):
		if len(r.selected) > 0 {
			s.sess.pick(r.Selected(), s.list.complete && r.AllSelected())
			return s.push(newOptionsScreen(s.sh, s.sess))
		}
		if row, ok := r.Current(); ok && row.checked && row.s.State == store.StateImported {
			return s.openDiff()
		}
		s.note = "Tick rows with Space (or a for all), then press Enter for the import options."
	case key.Matches(msg, k.Tab):
		return s.focusOn(focusSearchBox)
	case key.Matches(msg, k.Back):
		if r.t.Query() != "" {
			return s.filter.clear()
		}
		return s.focusOn(focusSearchBox)
	}
	return nil
}

// typeInBox starts a new search text with text: the box takes the focus.
func (s *searchScreen) typeInBox(text string) tea.Cmd {
	s.focusOn(focusSearchBox)
	s.searchErr = ""
	return s.list.typeInBox(text)
}

func (s *searchScreen) openDiff() tea.Cmd {
	row, ok := s.list.results.Current()
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
	switch s.list.mouse(msg, resultsTop) {
	case hitBox:
		return s.focusOn(focusSearchBox)
	case hitRow:
		return s.focusOn(focusResults)
	}
	return nil
}

// search starts a new search; the previous one is cancelled and its late
// batches dropped.
func (s *searchScreen) search(q string) tea.Cmd {
	tg, ctx := s.renew()
	s.sess.begin(q)
	s.filter.input.SetValue("") // the new results are shown whole
	s.searchErr = ""
	return tea.Batch(s.focusOn(focusResults), s.list.start(tg, ctx, q, s.sess.selected))
}

func (s *searchScreen) onBatch(msg batchMsg) tea.Cmd {
	if !s.fresh(msg.tag) {
		return nil
	}
	cmd := s.list.onBatch(msg, s.ctx)
	if s.list.searching {
		return cmd
	}
	// Nothing to act on: the keys go back to the box.
	if s.list.results.t.Total() == 0 && s.focus == focusResults {
		return s.focusOn(focusSearchBox)
	}
	return nil
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
	n := s.list.results.t.Total()
	q := fmt.Sprintf("%q", s.list.query)
	switch {
	case s.list.query == "":
		return ""
	case s.list.searching:
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
	l := &s.list
	r := l.results
	lines := make([]string, 0, s.height)
	lines = append(lines, l.boxLine(s.focus == focusSearchBox, "", w))
	switch {
	case s.searchErr != "":
		lines = append(lines, st.err.Render(cut(glyphWarning+" "+visible.String(s.searchErr), w)))
	case l.failed():
		lines = append(lines, st.err.Render(cut(glyphWarning+" "+visible.String(searchError(l.err)), w)))
	case l.classifyErr != "":
		lines = append(lines, st.err.Render(cut(glyphWarning+" "+visible.String(l.classifyErr), w)))
	case s.focus == focusResults:
		lines = append(lines, st.accent.Render(cut("  Keys act on the list below (space ticks) · typing starts a new search", w)))
	default:
		lines = append(lines, st.dim.Render(cut("  "+searchHint+" · an* is a wildcard · (…) is a raw filter", w)))
	}
	lines = append(lines, l.header(s.header(), len(r.selected), w))
	if r.t.Total() == 0 {
		if l.query != "" && !l.searching && !l.failed() {
			lines = append(lines, "", "  No entries match. Try a wildcard (an*) or another name.")
		}
		return joinLines(lines)
	}
	lines = append(lines, l.selectAllLine(r.AllSelected(), "skips blocked rows"))
	lines = append(lines, l.rowsView(w, s.focus != focusSearchBox)...)
	for len(lines) < resultsTop+r.t.Height() {
		lines = append(lines, "")
	}
	// Footer: the filter, or a note, or where we are in the list.
	switch {
	case s.focus == focusFilter || r.t.Query() != "":
		info := fmt.Sprintf("  %d of %d shown", r.t.Len(), r.t.Total())
		lines = append(lines, s.filterLine()+st.dim.Render(info))
	case s.note != "":
		lines = append(lines, st.accent.Render(cut(visible.String(s.note), w)))
	default:
		lines = append(lines, l.where("row", w))
	}
	lines = append(lines, r.legend(w, false))
	return joinLines(lines)
}

func (s *searchScreen) filterLine() string {
	if s.focus == focusFilter {
		return s.filter.input.View()
	}
	return "Filter: " + visible.String(s.filter.value())
}

package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// entraSession is what the Entra wizard's screens share once signed in:
// the tenant, the groups picked (across searches), the two options and
// the roles for new users. The group chooser owns it and closes the tenant
// when it leaves.
type entraSession struct {
	source Source
	dir    *entraDir
	// selected holds the external IDs of the groups picked; known holds
	// every group seen, by external ID, so that a group picked in one
	// search stays picked (and known) in the next.
	selected map[string]struct{}
	known    map[string]directory.Entry
	// ids lists, by folded display name, the ids of the groups seen with
	// that name: a name shared by several groups is written as an id in
	// the command line.
	ids map[string]map[string]bool
	// req is the import the choices make (tenant, add new, update
	// existing, roles); the summary completes it with the groups.
	req importer.Entra
	// chooser is the group chooser: where a finished import returns.
	chooser screenID
}

// newEntraRequest is a new Entra import of tenant with the defaults: add
// new users, do not update existing ones, no roles.
func newEntraRequest(tenant string) importer.Entra {
	return importer.Entra{Tenant: tenant, AddNew: true}
}

// begin starts the next import after a run: no group is picked, and the
// options are the defaults again, whatever the previous import chose.
func (s *entraSession) begin() {
	clear(s.selected)
	s.req = newEntraRequest(s.source.Name)
}

// picked returns the picked groups, sorted by name.
func (s *entraSession) picked() []directory.Entry {
	out := make([]directory.Entry, 0, len(s.selected))
	for id := range s.selected {
		if e, ok := s.known[id]; ok {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
		if a != b {
			return a < b
		}
		return out[i].ExternalID < out[j].ExternalID
	})
	return out
}

// seen records groups that arrived in a search.
func (s *entraSession) seen(rows []resultRow) {
	for _, r := range rows {
		s.known[r.e.ExternalID] = r.e
		f := store.Fold(r.e.Name)
		if s.ids[f] == nil {
			s.ids[f] = map[string]bool{}
		}
		s.ids[f][r.e.ExternalID] = true
	}
}

// groupArg is how --group names g: its display name, or its object id
// when several groups seen share the name.
func (s *entraSession) groupArg(g directory.Entry) string {
	if len(s.ids[store.Fold(g.Name)]) > 1 || g.Name == "" {
		return g.ExternalID
	}
	return g.Name
}

func (s *entraSession) sourceName() string { return s.source.Name }
func (s *entraSession) heading() string {
	return "Import from " + s.source.Name + " (Microsoft Entra ID)"
}
func (s *entraSession) home() screenID       { return s.chooser }
func (s *entraSession) events() *entraEvents { return s.dir.ev }

func (s *entraSession) directory() directory.Directory { return s.dir }

// complete implements importKind: the request names the picked groups.
func (s *entraSession) complete(actor string) (string, []string, store.Input, []directory.Entry) {
	groups := s.picked()
	req := &s.req
	req.Tenant, req.Groups = s.source.Name, nil
	for _, g := range groups {
		req.Groups = append(req.Groups, s.groupArg(g))
	}
	command := req.CommandLine()
	in := store.Input{Source: req.Tenant, Actor: actor, Command: command, Options: req.Options()}
	return command, req.Args(), in, groups
}

// fields implements importKind.
func (s *entraSession) fields() [][2]string {
	groups := s.picked()
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		n := g.Name
		if g.MemberCount >= 0 {
			n += fmt.Sprintf(" (%s)", plural(g.MemberCount, "member", "members"))
		}
		names = append(names, n)
	}
	out := [][2]string{{"Groups", strings.Join(names, ", ")}}
	if s.req.AddNew {
		out = append(out, [2]string{"Add new users", "yes — enabled (disabled in Entra stay disabled)"})
	} else {
		out = append(out, [2]string{"Add new users", "no — skip users not in the store yet"})
	}
	if s.req.UpdateExisting {
		out = append(out, [2]string{"Update existing", "yes — refresh users imported before or matched by email"})
	} else {
		out = append(out, [2]string{"Update existing", "no — skip users imported before or matched by email"})
	}
	roles := "none"
	if len(s.req.Roles) > 0 {
		roles = store.FormatAssignments(s.req.Roles) + " — the new groups get them; members hold them"
	}
	return append(out, [2]string{"Roles for new users", roles})
}

// The group chooser's focus.
type chooserFocus int

const (
	chooseList chooserFocus = iota
	chooseSearch
	chooseOptions
)

// searchDebounce is how long typing must pause before the server is asked.
const searchDebounce = 300 * time.Millisecond

// searchDueMsg fires when typing paused: search for q unless more was typed
// since (n is the keystroke's number).
type searchDueMsg struct {
	screen screenID
	n      uint64
	q      string
}

func (m searchDueMsg) target() tag { return tag{m.screen, m.n} }

// The chooser's layout: search box, hint, header, "Select all", rows,
// then the options line, a footer and the legend.
const chooserTop = 4

// entraGroupsScreen is the Entra wizard's group chooser: the tenant's
// groups with their member counts, searched on the server as one types
// (debounced; late results dropped), ticked with Space across searches,
// and the two options Add new users and Update previously imported users.
type entraGroupsScreen struct {
	base
	sess  *entraSession
	list  pickList // the search box and the streaming groups
	focus chooserFocus
	opt   int // 0: Add new users, 1: Update previously imported users

	note  string
	typed uint64        // keystrokes in the search box, for the debounce
	watch throttleWatch // Microsoft Graph's throttling while listing
}

func newEntraGroupsScreen(sh *shared, sess *entraSession) *entraGroupsScreen {
	if sess.selected == nil {
		sess.selected = map[string]struct{}{}
	}
	if sess.known == nil {
		sess.known = map[string]directory.Entry{}
	}
	if sess.ids == nil {
		sess.ids = map[string]map[string]bool{}
	}
	s := &entraGroupsScreen{base: newBase(sh), sess: sess}
	sess.chooser = s.ID()
	s.list = newPickList(sh, sess.source.Name, "a word of the group's name (sal finds EMEA Sales)", sess.dir.ListGroups)
	s.list.results.selected = sess.selected
	s.list.box.CharLimit = 256
	return s
}

// Title implements screen.
func (s *entraGroupsScreen) Title() string { return s.sess.source.Name }

// Init implements screen: list the tenant's groups.
func (s *entraGroupsScreen) Init() tea.Cmd { return s.search("") }

// Close implements screen: stop the search and sign out of the tenant.
func (s *entraGroupsScreen) Close() {
	s.base.Close()
	if s.sess.dir != nil {
		s.sess.dir.Close()
	}
}

func (s *entraGroupsScreen) restyle() { s.list.box.SetStyles(s.sh.st.input) }

// Typing implements screen.
func (s *entraGroupsScreen) Typing() bool { return s.focus == chooseSearch }

// claims implements claimer: on the list and the options, q and ? may
// start a name (typing there searches).
func (s *entraGroupsScreen) claims(msg tea.KeyPressMsg) bool {
	return s.focus != chooseSearch && claimsListLetter(msg)
}

// SetSize implements screen.
func (s *entraGroupsScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.list.box.SetWidth(max(10, w-12))
	s.list.results.t.SetHeight(h - chooserTop - 3) // options line, footer, legend
}

// Help implements screen.
func (s *entraGroupsScreen) Help() helpMap {
	k := s.sh.keys
	switch s.focus {
	case chooseSearch:
		return helpMap{short: []key.Binding{with(k.Enter, "keep search"), with(k.Tab, "groups"), with(k.Back, "clear search")}}
	case chooseOptions:
		move := key.NewBinding(key.WithKeys("left", "right", "up", "down"), key.WithHelp("←/→", "option"))
		return helpMap{
			short: []key.Binding{move, with(k.Toggle, "tick"), with(k.Enter, "next"), with(k.Back, "groups")},
			full:  [][]key.Binding{{move, with(k.Toggle, "tick the option"), with(k.Enter, "roles, summary")}, {with(k.Tab, "search"), with(k.Back, "the groups")}},
		}
	}
	// Movement and Esc are in the full help (?): the line fits 80 columns.
	short := []key.Binding{with(k.Toggle, "tick"), with(k.SelectAll, "all"), with(k.Filter, "search"), with(k.Tab, "options"), with(k.Enter, "next")}
	full := [][]key.Binding{
		k.navKeys(),
		{with(k.Toggle, "tick"), with(k.SelectAll, "all/none"), with(k.Filter, "search"), with(k.Tab, "options")},
		{with(k.Enter, "next"), with(k.Back, "back")},
	}
	return helpMap{short: short, full: full}
}

// Update implements screen.
func (s *entraGroupsScreen) Update(msg tea.Msg) tea.Cmd {
	if cmd, ok := s.watch.update(msg); ok {
		return cmd
	}
	switch msg := msg.(type) {
	case batchMsg:
		return s.onBatch(msg)
	case letterDueMsg:
		if !s.list.due(msg) {
			return nil // a key came since
		}
		return s.actOnLetter(msg.letter)
	case searchDueMsg:
		if msg.n != s.typed || msg.q == s.list.query {
			return nil // more was typed since, or nothing changed
		}
		return s.search(msg.q)
	case rolesChosenMsg:
		// The role picker answered: on to the summary.
		s.sess.req.Roles = msg.roles
		return s.push(newSummaryScreen(s.sh, s.sess))
	case refreshMsg:
		// A run finished: the next import starts afresh (no group
		// picked, the default options), and the groups' states changed.
		s.note = msg.note
		s.sess.begin()
		return tea.Batch(s.focusOn(chooseList), s.search(s.list.query))
	case mouseMsg:
		s.list.pending = 0
		s.list.ahead.reset()
		return s.onMouse(msg)
	case tea.PasteMsg:
		if s.focus == chooseSearch {
			return s.typeSearch(msg)
		}
		return s.typeInSearch(msg.Content) // pasted on the list: a search
	case tea.KeyPressMsg:
		switch s.focus {
		case chooseSearch:
			return s.keyInSearch(msg)
		case chooseOptions:
			return s.keyInOptions(msg)
		default:
			return s.keyInList(msg)
		}
	}
	if s.focus == chooseSearch {
		var cmd tea.Cmd
		s.list.box, cmd = s.list.box.Update(msg)
		return cmd
	}
	return nil
}

func (s *entraGroupsScreen) focusOn(f chooserFocus) tea.Cmd {
	s.focus = f
	if f == chooseSearch {
		return s.list.box.Focus()
	}
	s.list.box.Blur()
	return nil
}

// typeSearch edits the search box; the server is asked once typing pauses.
func (s *entraGroupsScreen) typeSearch(msg tea.Msg) tea.Cmd {
	before := s.list.box.Value()
	var cmd tea.Cmd
	s.list.box, cmd = s.list.box.Update(msg)
	if s.list.box.Value() == before {
		return cmd
	}
	return tea.Batch(cmd, s.searchDue())
}

// searchDue asks for a search of the box's text once typing pauses.
func (s *entraGroupsScreen) searchDue() tea.Cmd {
	s.typed++
	n, q, id := s.typed, strings.TrimSpace(s.list.box.Value()), s.ID()
	return tea.Tick(searchDebounce, func(time.Time) tea.Msg { return searchDueMsg{screen: id, n: n, q: q} })
}

// searchNow searches for what the box holds at once, unless the rows are
// for it already.
func (s *entraGroupsScreen) searchNow() tea.Cmd {
	s.typed++ // a pending debounce is void
	q := strings.TrimSpace(s.list.box.Value())
	if q == s.list.query && (s.list.searching || !s.list.failed()) {
		return nil
	}
	return s.search(q)
}

func (s *entraGroupsScreen) keyInSearch(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	switch {
	case key.Matches(msg, k.Enter), key.Matches(msg, k.Tab), msg.String() == "down":
		return tea.Batch(s.focusOn(chooseList), s.searchNow())
	case key.Matches(msg, k.Back):
		s.list.box.SetValue("")
		return tea.Batch(s.focusOn(chooseList), s.searchNow())
	}
	return s.typeSearch(msg)
}

func (s *entraGroupsScreen) keyInOptions(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	s.note = ""
	// Typing here is a search too; q and ? wait to see whether they start
	// a name, as on the list, and a letter that follows takes them along.
	if text := printable(msg); text != "" {
		if claimsListLetter(msg) {
			s.list.ahead.reset()
			_, cmd, _ := s.list.onListKey(msg, s.ID(), listLetters)
			return cmd
		}
		return s.typeInSearch(s.list.typed(text))
	}
	s.list.pending = 0 // any other key cancels a letter that waits
	switch {
	case msg.String() == "up", msg.String() == "left":
		s.opt = 0
	case msg.String() == "down", msg.String() == "right":
		s.opt = 1
	case key.Matches(msg, k.Toggle):
		s.toggleOption(s.opt)
	case key.Matches(msg, k.Enter):
		return s.next()
	case key.Matches(msg, k.Tab):
		return s.focusOn(chooseSearch)
	case key.Matches(msg, k.ShiftTab), key.Matches(msg, k.Back):
		return s.focusOn(chooseList)
	}
	return nil
}

func (s *entraGroupsScreen) toggleOption(i int) {
	if i == 0 {
		s.sess.req.AddNew = !s.sess.req.AddNew
	} else {
		s.sess.req.UpdateExisting = !s.sess.req.UpdateExisting
	}
}

func (s *entraGroupsScreen) keyInList(msg tea.KeyPressMsg) tea.Cmd {
	k := &s.sh.keys
	r := s.list.results
	s.note = ""
	// Letters that are list keys act, but a name typed on the list goes
	// to the search box, undoing them; q and ? wait (see wizard_typeahead.go).
	if typed, cmd, ok := s.list.onListKey(msg, s.ID(), listLetters); ok {
		if typed != "" {
			return s.typeInSearch(typed)
		}
		return cmd
	}
	if msg.String() == "backspace" {
		s.list.ahead.reset()
		return tea.Batch(s.focusOn(chooseSearch), s.typeSearch(msg))
	}
	s.list.ahead.reset()
	switch {
	case r.t.Navigate(msg, k.Keys):
	case key.Matches(msg, k.Toggle):
		r.Toggle()
	case key.Matches(msg, k.Filter), key.Matches(msg, k.ShiftTab):
		return s.focusOn(chooseSearch)
	case key.Matches(msg, k.Tab):
		return s.focusOn(chooseOptions)
	case key.Matches(msg, k.Enter):
		return s.next()
	case key.Matches(msg, k.Back):
		if s.list.query != "" {
			s.list.box.SetValue("")
			return s.searchNow()
		}
		return s.back()
	}
	return nil
}

// typeInSearch starts a new search text with text: the box takes the
// focus, and the server is asked once typing pauses.
func (s *entraGroupsScreen) typeInSearch(text string) tea.Cmd {
	s.focusOn(chooseSearch)
	return tea.Batch(s.list.typeInBox(text), s.searchDue())
}

// next moves on to the roles for new users, when there is something to do.
func (s *entraGroupsScreen) next() tea.Cmd {
	switch {
	case len(s.sess.selected) == 0:
		s.note = "Tick one or more groups with Space, then press Enter."
		return nil
	case !s.sess.req.AddNew && !s.sess.req.UpdateExisting:
		s.note = "Tick Add new users, Update previously imported users, or both (Tab)."
		return s.focusOn(chooseOptions)
	}
	p := newRolePicker(s.sh, s.sess.req.Roles, s.tag())
	p.title = "Roles for new users"
	p.heading = "Roles for new users: the imported groups get them, their members hold them"
	return s.push(p)
}

func (s *entraGroupsScreen) onMouse(msg mouseMsg) tea.Cmd {
	if msg.kind == mouseClick && msg.y == chooserTop+s.list.results.t.Height() {
		// The options line: "  [x] Add new users   [ ] Update …".
		i := 0
		if msg.x >= optionsSplit {
			i = 1
		}
		s.opt = i
		s.toggleOption(i)
		return s.focusOn(chooseOptions)
	}
	switch s.list.mouse(msg, chooserTop) {
	case hitBox:
		return s.focusOn(chooseSearch)
	case hitRow:
		return s.focusOn(chooseList)
	}
	return nil
}

// search lists the groups matching q; the previous search is cancelled and
// its late rows dropped. The picked groups stay picked.
func (s *entraGroupsScreen) search(q string) tea.Cmd {
	tg, ctx := s.renew()
	// Graph's throttling is shown while the listing lasts.
	listening, listened := context.WithCancel(ctx)
	s.list.done = listened
	return tea.Batch(s.list.start(tg, ctx, q, s.sess.selected), s.watch.start(s.sess.dir.ev, s.id, listening))
}

func (s *entraGroupsScreen) onBatch(msg batchMsg) tea.Cmd {
	if !s.fresh(msg.tag) {
		return nil
	}
	s.sess.seen(msg.rows)
	return s.list.onBatch(msg, s.ctx)
}

// header is the line above the groups.
func (s *entraGroupsScreen) header() string {
	l := &s.list
	n := l.results.t.Total()
	switch {
	case l.searching && l.query == "":
		return fmt.Sprintf("Reading the groups of %s… %d so far", s.sess.source.Name, n)
	case l.searching:
		return fmt.Sprintf("Searching… %s so far for %q", plural(n, "group", "groups"), l.query)
	case l.query == "":
		return fmt.Sprintf("%s in %s", plural(n, "group", "groups"), s.sess.source.Name)
	}
	return fmt.Sprintf("Found %s matching %q", plural(n, "group", "groups"), l.query)
}

// optionsSplit is the column where the second option starts.
const optionsSplit = 28

// View implements screen.
func (s *entraGroupsScreen) View() string {
	st := s.sh.st
	w := s.width
	l := &s.list
	r := l.results
	lines := make([]string, 0, s.height)
	lines = append(lines, l.boxLine(s.focus == chooseSearch, "/ or type to search the groups by name", w))
	switch {
	case l.failed() && r.t.Total() > 0:
		lines = append(lines, st.err.Render(cut(glyphWarning+" The list is partial: "+visible.String(l.err.Error()), w)))
	case l.classifyErr != "":
		lines = append(lines, st.err.Render(cut(glyphWarning+" "+visible.String(l.classifyErr), w)))
	case s.focus == chooseList:
		lines = append(lines, st.accent.Render(cut("  Keys act on the list below (space ticks) · typing searches the groups", w)))
	case s.focus == chooseOptions:
		lines = append(lines, st.accent.Render(cut("  Keys act on the options below (space ticks) · typing searches the groups", w)))
	default:
		lines = append(lines, st.dim.Render(cut("  Tick the groups whose members to import; searches match a word of the name", w)))
	}
	lines = append(lines, l.header(s.header(), len(s.sess.selected), w))
	switch {
	case l.failed() && r.t.Total() == 0:
		lines = append(lines, "")
		for _, line := range wrapHard(glyphWarning+" "+visible.String(l.err.Error()), max(10, w-2)) {
			lines = append(lines, st.err.Render("  "+line))
		}
	case r.t.Total() == 0 && !l.searching && l.query != "":
		lines = append(lines, "", fmt.Sprintf("  No group has a word starting with %q. Try the start of another word.", l.query))
	case r.t.Total() == 0 && !l.searching:
		lines = append(lines, "", "  The tenant has no groups.")
	case r.t.Total() > 0:
		lines = append(lines, l.selectAllLine(s.allTicked(), "skips groups that cannot be selected"))
		lines = append(lines, l.rowsView(w, s.focus == chooseList)...)
	}
	if len(lines) > chooserTop+r.t.Height() {
		lines = lines[:chooserTop+r.t.Height()]
	}
	for len(lines) < chooserTop+r.t.Height() {
		lines = append(lines, "")
	}
	lines = append(lines, s.optionsLine())
	switch {
	case s.note != "":
		lines = append(lines, st.accent.Render(cut(visible.String(s.note), w)))
	case s.watch.waiting():
		lines = append(lines, st.warn.Render(cut("  "+s.watch.line(), w)))
	case len(s.sess.req.Roles) > 0:
		lines = append(lines, st.dim.Render(cut("  Roles for new users: "+visible.String(store.FormatAssignments(s.sess.req.Roles))+" (Enter changes them)", w)))
	default:
		lines = append(lines, l.where("group", w))
	}
	lines = append(lines, r.legend(w, true))
	return joinLines(lines)
}

// optionsLine renders the two options; the focused one carries the cursor.
func (s *entraGroupsScreen) optionsLine() string {
	st := s.sh.st
	item := func(i int, on bool, text string) string {
		box := boxOff
		if on {
			box = st.selected.Render(boxOn)
		}
		marker := "  "
		if s.focus == chooseOptions && s.opt == i {
			return st.cursorRow.Render(glyphCursor + " " + boxText(on) + " " + text)
		}
		return marker + box + " " + text
	}
	first := item(0, s.sess.req.AddNew, "Add new users")
	return pad(first, optionsSplit) + item(1, s.sess.req.UpdateExisting, "Update previously imported users")
}

func boxText(on bool) string {
	if on {
		return boxOn
	}
	return boxOff
}

// allTicked reports whether every selectable row shown is ticked.
func (s *entraGroupsScreen) allTicked() bool {
	r := s.list.results
	some := false
	for _, i := range r.t.View() {
		row := r.t.Item(i)
		if !row.selectable() {
			continue
		}
		some = true
		if !r.isSelected(row) {
			return false
		}
	}
	return some
}

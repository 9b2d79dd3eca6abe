package tui

import (
	mathbits "math/bits"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/list"
	"github.com/usersync/usersync/tui/visible"
)

// resultRow is one search result and how it stands against the store.
type resultRow struct {
	e directory.Entry
	s store.Status
	// checked is false when the store could not classify the row: it is
	// shown but cannot be selected.
	checked bool
}

// selectable reports whether ticking the row means something: importing or
// synchronizing it. Blocked rows never are.
func (r *resultRow) selectable() bool {
	return r.checked && (r.s.State == store.StateNew || r.s.State == store.StateImported)
}

// action is what selecting the row does, in the product's words, shown
// with visible.String (a reason may quote the directory's name).
func (r *resultRow) action() string { return visible.String(r.rawAction()) }

func (r *resultRow) rawAction() string {
	if !r.checked {
		return "Could not check against the store"
	}
	switch {
	case r.s.State == store.StateNew && r.e.Disabled:
		return "Select to import (disabled in directory)"
	case r.s.State == store.StateImported && r.e.Disabled:
		return "Select to synchronize (disabled in directory)"
	}
	switch r.s.State {
	case store.StateNew:
		return "Select to import"
	case store.StateImported:
		return "Select to synchronize"
	case store.StateBlockedInternal:
		if r.s.Reason != "" {
			return r.s.Reason
		}
		return store.ReasonInternal
	case store.StateBlockedSource:
		if r.s.Reason != "" {
			return r.s.Reason
		}
		return "Username already taken by another directory's user"
	case store.StateInvalid:
		if r.s.Reason != "" {
			return r.s.Reason
		}
		return "Cannot be imported"
	}
	return string(r.s.State)
}

func resultHay(r resultRow) string { return r.e.Name + "\x00" + r.e.DisplayName + "\x00" + r.e.Email }

// The fates of a search result: what selecting it does.
const (
	fateImport    = iota // new: selecting it imports it
	fateSync             // imported before: selecting it synchronizes it
	fateBlocked          // the name is taken (an internal user, another source)
	fateInvalid          // it cannot be imported
	fateUnchecked        // it could not be checked against the store
	fateCount
)

// fateGlyphs are the fates' glyphs, in the results' gutter: they differ
// without colour; with colour each has its own (fateStyle).
var fateGlyphs = [fateCount]string{glyphImport, glyphSync, glyphBlocked, glyphInvalid, glyphUnchecked}

func fateStyle(st *styles, f int) lipgloss.Style {
	return [fateCount]lipgloss.Style{st.ok, st.accent, st.warn, st.err, st.dim}[f]
}

// fate is what selecting the row does.
func (r *resultRow) fate() int {
	if !r.checked {
		return fateUnchecked
	}
	switch r.s.State {
	case store.StateNew:
		return fateImport
	case store.StateImported:
		return fateSync
	case store.StateBlockedInternal, store.StateBlockedSource:
		return fateBlocked
	}
	return fateInvalid
}

// kind is the row's kind glyph: a user (hollow when disabled in the
// directory) or a group.
func (r *resultRow) kind() string {
	switch {
	case r.e.Type == directory.TypeGroup:
		return glyphGroup
	case r.e.Disabled:
		return glyphUserDisabled
	}
	return glyphUser
}

// cells are the row's name and display name, shown with visible.String; a
// group has no display name but its member count, and its name cell spans
// both columns.
func (r *resultRow) cells() (name, display string) {
	name = visible.String(r.e.Name)
	if r.e.Type == directory.TypeGroup {
		if r.e.MemberCount >= 0 {
			name += "  (" + plural(r.e.MemberCount, "member", "members") + ")"
		}
		return name, ""
	}
	if r.e.DisplayName != r.e.Name {
		display = visible.String(r.e.DisplayName)
	}
	return name, display
}

// results is the search results list of the import wizard: the rows in a
// table (the filtered view as indices, only visible rows drawn) and the
// selection as a set of external IDs. It holds 100k rows comfortably.
type results struct {
	sh         *shared
	t          list.Table[resultRow]
	selected   map[string]struct{} // external IDs
	selectable int                 // selectable rows in total
	// The widest name, display name, group cell and action of all rows
	// (not only the visible ones), kept as rows arrive: the columns stay
	// put while the list scrolls.
	nameW, displayW, groupW, actionW int

	legendFor  legendKey
	legendText string
	// glyphs are the fates' glyphs rendered in the styles of glyphsFor.
	glyphsFor legendKey
	glyphs    [fateCount]string
}

// fateGlyph is fate f's glyph in its style, rendered once per look.
func (r *results) fateGlyph(f int) string {
	st := r.sh.st
	if k := (legendKey{dark: st.dark, noColor: st.noColor}); r.glyphsFor != k || r.glyphs[f] == "" {
		r.glyphsFor = k
		for i := range fateCount {
			r.glyphs[i] = fateStyle(st, i).Render(fateGlyphs[i])
		}
	}
	return r.glyphs[f]
}

func newResults(sh *shared) *results {
	return &results{sh: sh, selected: map[string]struct{}{}}
}

// Reset empties the list and the selection.
func (r *results) Reset() {
	r.t.Reset()
	r.t.ClearQuery()
	r.selected = map[string]struct{}{}
	r.selectable = 0
	r.nameW, r.displayW, r.groupW, r.actionW = 0, 0, 0, 0
}

// Append adds rows as they stream in.
func (r *results) Append(rows []resultRow) {
	for i := range rows {
		row := &rows[i]
		if row.selectable() {
			r.selectable++
		}
		name, display := row.cells()
		if row.e.Type == directory.TypeGroup {
			r.groupW = max(r.groupW, ansi.StringWidth(name))
		} else {
			r.nameW = max(r.nameW, ansi.StringWidth(name))
			r.displayW = max(r.displayW, ansi.StringWidth(display))
		}
		r.actionW = max(r.actionW, ansi.StringWidth(row.action()))
	}
	r.t.Append(rows, resultHay)
}
func (r *results) isSelected(row *resultRow) bool {
	_, ok := r.selected[row.e.ExternalID]
	return ok
}

// Toggle ticks or unticks the row under the cursor; blocked rows stay
// unticked. It reports whether anything changed.
func (r *results) Toggle() bool {
	i, ok := r.t.Current()
	if !ok {
		return false
	}
	row := r.t.Item(i)
	if !row.selectable() {
		return false
	}
	if r.isSelected(row) {
		delete(r.selected, row.e.ExternalID)
	} else {
		r.selected[row.e.ExternalID] = struct{}{}
	}
	return true
}

// SelectAll ticks every selectable row in the view, skipping blocked rows;
// when they all are ticked already, it unticks them (select none). It
// returns how to undo it (the rows it changed, changed back).
func (r *results) SelectAll() (undo func()) {
	all := true
	for _, i := range r.t.View() {
		row := r.t.Item(i)
		if row.selectable() && !r.isSelected(row) {
			all = false
			break
		}
	}
	sel, view := r.selected, r.t.View()
	changed := make([]uint64, (len(view)+63)/64) // view positions, as bits
	for p, i := range view {
		row := r.t.Item(i)
		if !row.selectable() {
			continue
		}
		id := row.e.ExternalID
		if all {
			delete(sel, id) // all: every one of them was ticked
		} else {
			n := len(sel)
			sel[id] = struct{}{}
			if len(sel) == n {
				continue // ticked already
			}
		}
		changed[p/64] |= 1 << (p % 64)
	}
	items := r.t.Items()
	return func() {
		for w, bits := range changed {
			for ; bits != 0; bits &= bits - 1 {
				id := items[view[w*64+mathbits.TrailingZeros64(bits)]].e.ExternalID
				if all {
					sel[id] = struct{}{}
				} else {
					delete(sel, id)
				}
			}
		}
	}
}

// AllSelected reports whether every selectable row of the whole result
// (not only the filtered view) is ticked.
func (r *results) AllSelected() bool {
	return r.selectable > 0 && len(r.selected) == r.selectable
}

// Selected returns the ticked rows in result order.
func (r *results) Selected() []resultRow {
	out := make([]resultRow, 0, len(r.selected))
	if len(r.selected) == 0 {
		return out
	}
	for i := range r.t.Items() {
		if r.isSelected(&r.t.Items()[i]) {
			out = append(out, r.t.Items()[i])
		}
	}
	return out
}

// Current returns the row under the cursor.
func (r *results) Current() (*resultRow, bool) {
	i, ok := r.t.Current()
	if !ok {
		return nil, false
	}
	return r.t.Item(i), true
}

// The results' layout: the fate gutter, the cursor, the checkbox and the
// kind glyph take resultsFixed cells; then the name, display name and
// action columns.
const resultsFixed = 2 + 2 + 4 + 2

// columns are the widths of the name, display name and action columns at
// width, and the gap between them: fixed for the whole list (from every
// row, not only the visible ones), so that names, display names and
// actions line up however the list scrolls. The product's wording of the
// action is cut last.
func (r *results) columns(width int) (nameW, displayW, actionW, gap int) {
	nameNeed := min(max(r.nameW, 6), 24)
	dispNeed := min(max(r.displayW, 8), 30)
	if g := r.groupW - nameNeed - 2; g > dispNeed {
		dispNeed = min(g, 40) // a group's name and member count span both
	}
	gap = 2
	if resultsFixed+nameNeed+dispNeed+r.actionW+2*gap > width {
		gap = 1
	}
	avail := max(0, width-resultsFixed-2*gap)
	// The action first (the product's wording, or why a row is blocked),
	// leaving the name and the display name a readable minimum (at 80
	// columns: 18 and 12 cells, 38 for the action; a longer reason is cut,
	// and the footer shows it whole for the row under the cursor); what is
	// left goes to the name, then to the display name.
	nameMin, dispMin := min(nameNeed, 18), min(dispNeed, 12)
	actionW = max(0, min(r.actionW, avail-nameMin-dispMin))
	rest := avail - actionW
	nameW = max(0, min(nameNeed, rest-dispMin))
	displayW = max(0, min(dispNeed, rest-nameW))
	return nameW, displayW, actionW, gap
}

// cutAction returns the action of the row under the cursor when the
// action column at width cuts it, "" when it is shown whole.
func (r *results) cutAction(width int) string {
	row, ok := r.Current()
	if !ok {
		return ""
	}
	_, _, actionW, _ := r.columns(width)
	if a := row.action(); ansi.StringWidth(a) > actionW {
		return a
	}
	return ""
}

// View renders the visible rows; the row under the cursor is marked and
// highlighted only when the list has the focus.
func (r *results) View(width int, focused bool) string {
	from, to := r.t.Visible()
	if from == to {
		return ""
	}
	st := r.sh.st
	nameW, displayW, actionW, gap := r.columns(width)
	sep := strings.Repeat(" ", gap)
	var b strings.Builder
	for p := from; p < to; p++ {
		row := r.t.Item(r.t.At(p))
		box := boxOff
		switch {
		case !row.selectable():
			box = boxBlocked
		case r.isSelected(row):
			box = boxOn
		}
		name, display := row.cells()
		var cols string
		if row.e.Type == directory.TypeGroup {
			cols = pad(name, nameW+gap+displayW)
		} else {
			cols = pad(name, nameW) + sep + pad(display, displayW)
		}
		action := pad(row.action(), actionW)
		kind := row.kind()
		var text string
		switch {
		case !row.selectable():
			text = st.dim.Render(box + " " + kind + " " + cols + sep + action)
		case r.isSelected(row):
			text = st.selected.Render(box) + " " + kind + " " + cols + sep + action
		default:
			text = box + " " + kind + " " + cols + sep + st.dim.Render(action)
		}
		if p > from {
			b.WriteByte('\n')
		}
		current := focused && p == r.t.Cursor()
		marker := "  "
		if current {
			marker = glyphCursor + " "
		}
		line := r.fateGlyph(row.fate()) + " " + marker + text
		if current {
			// One style across the row: inner styles would end the highlight.
			line = st.cursorRow.Render(ansi.Strip(line))
		}
		b.WriteString(pad(line, width))
	}
	return b.String()
}

// legendKey is what the legend's rendering depends on.
type legendKey struct {
	width         int
	groupsOnly    bool
	dark, noColor bool
}

// legend explains the results' glyphs, in as many words as width allows.
// It is rendered once per width and look, not at every keystroke.
func (r *results) legend(width int, groupsOnly bool) string {
	st := r.sh.st
	k := legendKey{width, groupsOnly, st.dark, st.noColor}
	if r.legendFor == k && r.legendText != "" {
		return r.legendText
	}
	r.legendFor, r.legendText = k, r.renderLegend(width, groupsOnly)
	return r.legendText
}

func (r *results) renderLegend(width int, groupsOnly bool) string {
	st := r.sh.st
	type item struct {
		glyph  string
		style  lipgloss.Style
		labels [3]string // long, medium, short
	}
	plain := lipgloss.NewStyle()
	items := []item{
		{glyphImport, fateStyle(st, fateImport), [3]string{"import", "import", "import"}},
		{glyphSync, fateStyle(st, fateSync), [3]string{"synchronize", "synchronize", "sync"}},
		{glyphBlocked, fateStyle(st, fateBlocked), [3]string{"blocked: name taken", "blocked", "blocked"}},
		{glyphInvalid, fateStyle(st, fateInvalid), [3]string{"invalid", "invalid", "invalid"}},
	}
	if !groupsOnly {
		items = append(items, item{glyphUser, plain, [3]string{"user", "user", "user"}},
			item{glyphUserDisabled, plain, [3]string{"disabled in directory", "disabled", "disabled"}})
	}
	items = append(items, item{glyphGroup, plain, [3]string{"group", "group", "group"}})
	level := 0
	for ; level < 2; level++ {
		w := 2 * (len(items) - 1)
		for _, it := range items {
			w += ansi.StringWidth(it.glyph) + 1 + ansi.StringWidth(it.labels[level])
		}
		if w <= width {
			break
		}
	}
	parts := make([]string, 0, len(items))
	for _, it := range items {
		parts = append(parts, it.style.Render(it.glyph)+" "+st.dim.Render(it.labels[level]))
	}
	out := strings.Join(parts, "  ")
	if ansi.StringWidth(out) <= width {
		return out
	}
	return ansi.Truncate(out, width, "…")
}

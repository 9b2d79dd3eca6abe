package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
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

// results is the search results list of the import wizard: the rows in a
// table (the filtered view as indices, only visible rows drawn) and the
// selection as a set of external IDs. It holds 100k rows comfortably.
type results struct {
	sh         *shared
	t          table[resultRow]
	selected   map[string]struct{} // external IDs
	selectable int                 // selectable rows in total
}

func newResults(sh *shared) *results {
	return &results{sh: sh, selected: map[string]struct{}{}}
}

// Reset empties the list and the selection.
func (r *results) Reset() {
	r.t.Reset()
	r.t.query = ""
	r.selected = map[string]struct{}{}
	r.selectable = 0
}

// Append adds rows as they stream in.
func (r *results) Append(rows []resultRow) {
	for i := range rows {
		if rows[i].selectable() {
			r.selectable++
		}
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
// when they all are ticked already, it unticks them (select none).
func (r *results) SelectAll() {
	all := true
	for _, i := range r.t.view {
		row := r.t.Item(i)
		if row.selectable() && !r.isSelected(row) {
			all = false
			break
		}
	}
	for _, i := range r.t.view {
		row := r.t.Item(i)
		if !row.selectable() {
			continue
		}
		if all {
			delete(r.selected, row.e.ExternalID)
		} else {
			r.selected[row.e.ExternalID] = struct{}{}
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
	for i := range r.t.items {
		if r.isSelected(&r.t.items[i]) {
			out = append(out, r.t.items[i])
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

// View renders the visible rows.
func (r *results) View(width int) string {
	from, to := r.t.Visible()
	if from == to {
		return ""
	}
	st := r.sh.st
	// The action column is as wide as the visible rows need (the product's
	// wording is not cut at 80 columns); the name takes the rest.
	actionW := 0
	for p := from; p < to; p++ {
		actionW = max(actionW, ansi.StringWidth(r.t.Item(r.t.view[p]).action()))
	}
	const fixed = 2 + 4 + 2 + 1 // cursor, checkbox, glyph and flag, gap
	actionW = min(actionW, width-fixed-16)
	nameW := max(8, width-fixed-actionW-1)
	var b strings.Builder
	for p := from; p < to; p++ {
		row := r.t.Item(r.t.view[p])
		box := boxOff
		switch {
		case !row.selectable():
			box = boxBlocked
		case r.isSelected(row):
			box = boxOn
		}
		glyph := glyphUser
		if row.e.Type == directory.TypeGroup {
			glyph = glyphGroup
		}
		flag := " "
		if row.e.Disabled {
			flag = glyphDisabled
		}
		name := visible.String(row.e.Name)
		if row.e.DisplayName != "" && row.e.DisplayName != row.e.Name {
			name += "  " + visible.String(row.e.DisplayName)
		}
		if row.e.Type == directory.TypeGroup && row.e.MemberCount >= 0 {
			name += "  (" + plural(row.e.MemberCount, "member", "members") + ")"
		}
		name = pad(name, nameW)
		action := cut(row.action(), actionW)
		var text string
		switch {
		case !row.selectable():
			text = st.dim.Render(box + " " + glyph + flag + name + " " + action)
		case r.isSelected(row):
			text = st.selected.Render(box) + " " + glyph + flag + name + " " + action
		default:
			text = box + " " + glyph + flag + name + " " + st.dim.Render(action)
		}
		if p > from {
			b.WriteByte('\n')
		}
		b.WriteString(rowLine(r.sh, p == r.t.cursor, text, width))
	}
	return b.String()
}

// Package list is the large-list engine under every list of usersync's
// terminal interface: search results, users, groups, members, pickers.
package list

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Table is the large-list engine every list of the app uses (search
// results, users, groups, members, pickers). Items live in a slice, the
// filtered view is a slice of indices, and only the rows between offset and
// offset+height are ever rendered: a keystroke costs the same with ten rows
// or a hundred thousand. It deliberately does not use bubbles/list, which
// re-renders everything and draws one paginator dot per page.
//
// Items are append-only and never modified once added: a filter running in
// a tea.Cmd reads them while Update appends more.
type Table[T any] struct {
	items []T
	hay   []string      // lower-cased text each item is filtered on
	keep  func(*T) bool // an extra condition (a tab), nil for none

	view   []int  // indices into items, in order
	query  string // the filter applied to view, lower-cased
	cursor int    // position in view
	offset int    // first visible position in view
	height int    // visible rows

	filterGen uint64 // the newest filter request; older results are dropped
}

// Len is the number of rows in the filtered view.
func (t *Table[T]) Len() int { return len(t.view) }

// Total is the number of items, filtered or not.
func (t *Table[T]) Total() int { return len(t.items) }

// Reset empties the table.
func (t *Table[T]) Reset() {
	t.items, t.hay, t.view = nil, nil, nil
	t.cursor, t.offset = 0, 0
	t.filterGen++
}

// matches tells whether item i belongs in the view for the lower-cased
// query q.
func (t *Table[T]) matches(i int, q string) bool {
	return match(&t.items[i], t.hay[i], t.keep, q)
}

func match[T any](it *T, hay string, keep func(*T) bool, q string) bool {
	if keep != nil && !keep(it) {
		return false
	}
	return q == "" || strings.Contains(hay, q)
}

// Append adds items (with the text each is filtered on) and shows those
// that match the current filter.
func (t *Table[T]) Append(items []T, hay func(T) string) {
	start := len(t.items)
	t.items = append(t.items, items...)
	for _, it := range items {
		t.hay = append(t.hay, strings.ToLower(hay(it)))
	}
	for i := start; i < len(t.items); i++ {
		if t.matches(i, t.query) {
			t.view = append(t.view, i)
		}
	}
	t.clamp()
}

// Set replaces all items, keeping the cursor near where it was.
func (t *Table[T]) Set(items []T, hay func(T) string) {
	cur, off := t.cursor, t.offset
	t.items, t.hay, t.view = nil, nil, nil
	t.filterGen++
	t.Append(items, hay)
	t.cursor, t.offset = cur, off
	t.clamp()
}

// Refilter recomputes the view synchronously (for small tables and for a
// change of keep).
func (t *Table[T]) Refilter() {
	t.filterGen++
	t.view = filterSnapshot(t.items, t.hay, t.keep, t.query)
	t.cursor, t.offset = 0, 0
	t.clamp()
}

// filterSnapshot returns the indices of items matching q. It reads only
// what it is given, so a command can run it on a snapshot while Update
// appends to the table.
func filterSnapshot[T any](items []T, hay []string, keep func(*T) bool, q string) []int {
	out := make([]int, 0, min(len(items), 1024))
	for i := range items {
		if match(&items[i], hay[i], keep, q) {
			out = append(out, i)
		}
	}
	return out
}

// Filtered is a filtered view computed off the update loop (in a
// tea.Cmd), for ApplyFilter.
type Filtered struct {
	gen   uint64
	query string
	n     int // items[:n] were filtered; later ones are filtered on arrival
	view  []int
}

// Filter returns a function computing the view matching query over the
// items present now; it reads only its snapshot, so a command can run it
// while Update appends. Its result must be passed to ApplyFilter, which
// drops it if a newer filter was asked for since.
func (t *Table[T]) Filter(query string) func() Filtered {
	q := strings.ToLower(query)
	t.filterGen++
	gen, n := t.filterGen, len(t.items)
	items, hay, keep := t.items[:n:n], t.hay[:n:n], t.keep
	return func() Filtered {
		return Filtered{gen: gen, query: q, n: n, view: filterSnapshot(items, hay, keep, q)}
	}
}

// ApplyFilter installs a filtered view unless a newer filter was asked for
// since. It reports whether it did.
func (t *Table[T]) ApplyFilter(m Filtered) bool {
	if m.gen != t.filterGen {
		return false
	}
	t.query = m.query
	t.view = m.view
	for i := m.n; i < len(t.items); i++ {
		if t.matches(i, t.query) {
			t.view = append(t.view, i)
		}
	}
	t.cursor, t.offset = 0, 0
	t.clamp()
	return true
}

// Current is the item index under the cursor.
func (t *Table[T]) Current() (int, bool) {
	if t.cursor < 0 || t.cursor >= len(t.view) {
		return 0, false
	}
	return t.view[t.cursor], true
}

// Item returns item i.
func (t *Table[T]) Item(i int) *T { return &t.items[i] }

// SetHeight sets the number of visible rows.
func (t *Table[T]) SetHeight(h int) {
	t.height = max(1, h)
	t.clamp()
}

// Move moves the cursor by delta rows.
func (t *Table[T]) Move(delta int) {
	t.cursor += delta
	t.clamp()
}

// MoveTo puts the cursor on view position p.
func (t *Table[T]) MoveTo(p int) {
	t.cursor = p
	t.clamp()
}

// Scroll moves the window by delta rows, dragging the cursor along when it
// would leave it (mouse wheel).
func (t *Table[T]) Scroll(delta int) {
	t.offset += delta
	maxOff := max(0, len(t.view)-t.height)
	t.offset = max(0, min(t.offset, maxOff))
	if t.cursor < t.offset {
		t.cursor = t.offset
	}
	if t.cursor >= t.offset+t.height {
		t.cursor = t.offset + t.height - 1
	}
	t.clamp()
}

func (t *Table[T]) clamp() {
	if t.height < 1 {
		t.height = 1
	}
	n := len(t.view)
	if n == 0 {
		t.cursor, t.offset = 0, 0
		return
	}
	t.cursor = max(0, min(t.cursor, n-1))
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+t.height {
		t.offset = t.cursor - t.height + 1
	}
	t.offset = max(0, min(t.offset, max(0, n-t.height)))
}

// Visible returns the view positions to draw, first to last.
func (t *Table[T]) Visible() (from, to int) {
	return t.offset, min(len(t.view), t.offset+t.height)
}

// Mark returns how to put the cursor and the window back where they are.
func (t *Table[T]) Mark() (restore func()) {
	cursor, offset := t.cursor, t.offset
	return func() {
		t.cursor, t.offset = cursor, offset
		t.clamp()
	}
}

// Keys are the movement bindings of a table.
type Keys struct {
	Up, Down, PageUp, PageDown, Home, End key.Binding
}

// Navigate applies a movement key; it reports whether msg was one.
func (t *Table[T]) Navigate(msg tea.KeyPressMsg, k Keys) bool {
	switch {
	case key.Matches(msg, k.Up):
		t.Move(-1)
	case key.Matches(msg, k.Down):
		t.Move(1)
	case key.Matches(msg, k.PageUp):
		t.Move(-t.height)
	case key.Matches(msg, k.PageDown):
		t.Move(t.height)
	case key.Matches(msg, k.Home):
		t.MoveTo(0)
	case key.Matches(msg, k.End):
		t.MoveTo(len(t.view) - 1)
	default:
		return false
	}
	return true
}

// Click handles a click on body row y, where the table's first row is at
// row top: it moves the cursor there and returns the view position
// clicked, or -1 outside the rows.
func (t *Table[T]) Click(y, top int) int {
	p := t.offset + y - top
	if y >= top && y < top+t.height && p < len(t.view) {
		t.MoveTo(p)
		return p
	}
	return -1
}

// Cursor is the cursor's position in the view.
func (t *Table[T]) Cursor() int { return t.cursor }

// Height is the number of visible rows.
func (t *Table[T]) Height() int { return t.height }

// Query is the filter applied to the view, lower-cased ("" for none).
func (t *Table[T]) Query() string { return t.query }

// ClearQuery forgets the filter; the view is recomputed by the next
// Append, Set or Refilter (call it on an emptied table).
func (t *Table[T]) ClearQuery() { t.query = "" }

// SetKeep sets an extra condition an item must meet to be shown (a tab),
// nil for none; Refilter applies it.
func (t *Table[T]) SetKeep(keep func(*T) bool) { t.keep = keep }

// View returns the item indices shown, in order. It must not be modified.
func (t *Table[T]) View() []int { return t.view }

// At is the item index at view position p.
func (t *Table[T]) At(p int) int { return t.view[p] }

// Items returns every item, filtered or not. It must not be modified.
func (t *Table[T]) Items() []T { return t.items }

package list

import (
	"fmt"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

func TestTable_CursorStaysInWindow(t *testing.T) {
	var tb Table[int]
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	tb.Append(items, func(i int) string { return fmt.Sprint(i) })
	tb.SetHeight(10)
	tb.MoveTo(50)
	if from, to := tb.Visible(); tb.cursor < from || tb.cursor >= to {
		t.Fatalf("cursor %d outside window %d-%d", tb.cursor, from, to)
	}
	tb.Move(1000)
	if tb.cursor != 99 || tb.offset != 90 {
		t.Fatalf("end: cursor %d offset %d", tb.cursor, tb.offset)
	}
	tb.Scroll(-95)
	if tb.offset != 0 || tb.cursor != 9 {
		t.Fatalf("wheel up: cursor %d offset %d, want the cursor dragged into view", tb.cursor, tb.offset)
	}
	tb.SetHeight(200)
	if tb.offset != 0 {
		t.Fatalf("taller window keeps offset %d", tb.offset)
	}
}

func TestTable_StaleFilterResultIsDropped(t *testing.T) {
	var tb Table[string]
	tb.Append([]string{"anna", "bob", "andy"}, func(s string) string { return s })
	first := tb.Filter("an")
	second := tb.Filter("b")
	if tb.ApplyFilter(first()) {
		t.Fatal("an older filter's result was applied")
	}
	if !tb.ApplyFilter(second()) || tb.Len() != 1 {
		t.Fatalf("the newest filter was not applied: %d rows", tb.Len())
	}
	// Rows arriving after the filter was computed are filtered on arrival.
	tb.Append([]string{"bea", "carl"}, func(s string) string { return s })
	if tb.Len() != 2 {
		t.Fatalf("rows appended after filtering: %d shown, want 2", tb.Len())
	}
}

func TestTable_KeepAndQueryFilterTogether(t *testing.T) {
	var tb Table[int]
	items := make([]int, 30)
	for i := range items {
		items[i] = i
	}
	tb.Append(items, func(i int) string { return fmt.Sprint(i) })
	tb.SetKeep(func(i *int) bool { return *i%2 == 0 })
	tb.Refilter()
	if tb.Len() != 15 || tb.Total() != 30 {
		t.Fatalf("even items: %d shown of %d", tb.Len(), tb.Total())
	}
	if !tb.ApplyFilter(tb.Filter("2")()) {
		t.Fatal("the filter was not applied")
	}
	// Even numbers with a 2 in them: 2, 12, 20, 22, 24, 26, 28.
	if tb.Len() != 7 || tb.Query() != "2" || tb.At(0) != 2 {
		t.Fatalf("even items with a 2: %v", tb.View())
	}
}

func TestTable_NavigateAndClick(t *testing.T) {
	var tb Table[int]
	tb.Append(make([]int, 50), func(int) string { return "" })
	tb.SetHeight(10)
	k := Keys{
		Up: key.NewBinding(key.WithKeys("up")), Down: key.NewBinding(key.WithKeys("down")),
		PageUp: key.NewBinding(key.WithKeys("pgup")), PageDown: key.NewBinding(key.WithKeys("pgdown")),
		Home: key.NewBinding(key.WithKeys("home")), End: key.NewBinding(key.WithKeys("end")),
	}
	press := func(code rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: code} }
	if !tb.Navigate(press(tea.KeyPgDown), k) || tb.Cursor() != 10 {
		t.Fatalf("page down: cursor %d", tb.Cursor())
	}
	if !tb.Navigate(press(tea.KeyEnd), k) || tb.Cursor() != 49 {
		t.Fatalf("end: cursor %d", tb.Cursor())
	}
	if tb.Navigate(press('x'), k) {
		t.Fatal("x moved the cursor")
	}
	// The window shows rows 40-49; row 2 of the body, under a header of one
	// line, is view position 41.
	if p := tb.Click(2, 1); p != 41 || tb.Cursor() != 41 {
		t.Fatalf("click: position %d, cursor %d", p, tb.Cursor())
	}
	if p := tb.Click(20, 1); p != -1 {
		t.Fatalf("a click under the rows hit position %d", p)
	}
}

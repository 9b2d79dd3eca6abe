package tui

import (
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// benchModel is the root model showing the wizard's results with n rows,
// the state every keystroke of these benchmarks starts from.
func benchModel(b *testing.B, n int) (*model, *searchScreen) {
	b.Helper()
	m := newModel(Config{Sources: []Source{{Name: "dc01", Kind: directory.KindLDAP}}}, StartImport)
	m.sh.st.set(true, false) // colours on: the costlier rendering
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	s := newSearchScreen(m.sh, &importSession{source: Source{Name: "dc01", Kind: directory.KindLDAP}, dir: &memDir{name: "dc01"}})
	m.push(s)
	for _, msg := range typeText("an*") {
		s.Update(msg)
	}
	s.Update(keyPress("enter"))
	states := []store.State{store.StateNew, store.StateImported, store.StateBlockedInternal, store.StateNew}
	rows := make([]resultRow, 0, n)
	for i := range n {
		e := user(fmt.Sprintf("an%06d", i), fmt.Sprintf("Anna Number %d", i), fmt.Sprintf("an%06d@example.org", i))
		if i%10 == 0 {
			e = group(fmt.Sprintf("analysts-%d", i))
		}
		e.Disabled = i%17 == 0
		rows = append(rows, row(e, states[i%len(states)], store.ReasonInternal))
	}
	for i := 0; i < n; i += batchRows {
		s.Update(batchMsg{tag: s.tag(), rows: rows[i:min(n, i+batchRows)], done: i+batchRows >= n})
	}
	if s.list.results.t.Total() != n {
		b.Fatalf("%d rows loaded, want %d", s.list.results.t.Total(), n)
	}
	return m, s
}

// keystroke delivers msg the way the program does: Update, then the
// commands it returns (a filter's result comes back as a message), then a
// full View.
func keystroke(b *testing.B, m *model, msg tea.Msg) {
	_, cmd := m.Update(msg)
	for _, res := range runAll(cmd) {
		m.Update(res)
	}
	_ = m.View()
}

// runAll runs cmd synchronously, opening batches, skipping bubbles' timers.
func runAll(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, runAll(c)...)
		}
		return out
	}
	if msg == nil || isInternal(msg) {
		return nil
	}
	return []tea.Msg{msg}
}

const budget = 16 * time.Millisecond

func reportPerKey(b *testing.B) {
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/key")
	if per > budget {
		b.Errorf("a keystroke plus View took %s with 100k rows, budget %s", per, budget)
	}
}

func BenchmarkResults100k_MoveAndView(b *testing.B) {
	m, _ := benchModel(b, 100_000)
	down, up := keyPress("down"), keyPress("up")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			keystroke(b, m, down)
		} else {
			keystroke(b, m, up)
		}
	}
	reportPerKey(b)
}

func BenchmarkResults100k_PageDownAndView(b *testing.B) {
	m, s := benchModel(b, 100_000)
	pg, home := keyPress("pgdown"), keyPress("home")
	b.ResetTimer()
	for b.Loop() {
		if s.list.results.t.Cursor() > 99_000 {
			keystroke(b, m, home)
			continue
		}
		keystroke(b, m, pg)
	}
	reportPerKey(b)
}

func BenchmarkResults100k_ToggleAndView(b *testing.B) {
	m, _ := benchModel(b, 100_000)
	space := keyPress("space")
	b.ResetTimer()
	for b.Loop() {
		keystroke(b, m, space)
	}
	reportPerKey(b)
}

func BenchmarkResults100k_FilterCharAndView(b *testing.B) {
	m, s := benchModel(b, 100_000)
	keystroke(b, m, keyPress("/"))
	keystroke(b, m, keyPress("9"))
	nine, bs := keyPress("9"), keyPress("backspace")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// "9" then "99", back to "9", …: each keystroke filters all rows.
		if i%2 == 0 {
			keystroke(b, m, nine)
		} else {
			keystroke(b, m, bs)
		}
	}
	b.StopTimer()
	if s.list.results.t.Len() == 0 || s.list.results.t.Len() == 100_000 {
		b.Fatalf("the filter matched %d rows", s.list.results.t.Len())
	}
	reportPerKey(b)
}

func BenchmarkResults100k_SelectAllAndView(b *testing.B) {
	m, _ := benchModel(b, 100_000)
	a := keyPress("a")
	b.ResetTimer()
	for b.Loop() {
		keystroke(b, m, a)
	}
	b.ReportMetric(float64((b.Elapsed()/time.Duration(b.N)).Microseconds())/1000, "ms/key")
}

package tui

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// keyPress builds the tea.KeyPressMsg a terminal sends for a key name as
// the help shows it ("enter", "esc", "space", "ctrl+c", "a", "/").
func keyPress(name string) tea.KeyPressMsg {
	switch name {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(name)
	if len(r) != 1 {
		panic("keyPress: unknown key " + name)
	}
	return tea.KeyPressMsg{Code: r[0], Text: name}
}

// typeText returns the key presses for s.
func typeText(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		if r == ' ' {
			out = append(out, keyPress("space"))
			continue
		}
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// driver runs the root model the way tea.Program does, synchronously:
// each message goes through Update, and the commands it returns run (each
// with a time limit), their messages queued in turn.
type driver struct {
	t    testing.TB
	m    *model
	quit bool
	// skip drops messages a test does not want delivered.
	skip func(tea.Msg) bool
}

func newDriver(t testing.TB, cfg Config, start Start) *driver {
	t.Helper()
	m := newModel(cfg, start)
	d := &driver{t: t, m: m}
	t.Cleanup(m.closeAll)
	d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	d.run(m.Init())
	return d
}

// send delivers msgs in order, running the commands they produce until
// the model is idle.
func (d *driver) send(msgs ...tea.Msg) {
	d.t.Helper()
	for _, msg := range msgs {
		_, cmd := d.m.Update(msg)
		d.run(cmd)
	}
}

// keys presses keys by name.
func (d *driver) keys(names ...string) {
	d.t.Helper()
	for _, n := range names {
		d.send(keyPress(n))
	}
}

// typeText types s.
func (d *driver) typeText(s string) {
	d.t.Helper()
	d.send(typeText(s)...)
}

// run executes cmd and everything it leads to.
func (d *driver) run(cmd tea.Cmd) {
	d.t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 100000 {
			d.t.Fatal("driver: too many steps")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := runCmd(d.t, c)
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			d.quit = true
		default:
			if isInternal(msg) || (d.skip != nil && d.skip(msg)) {
				continue
			}
			_, next := d.m.Update(msg)
			queue = append(queue, next)
		}
	}
}

// isInternal tells messages of bubbles' own timers (cursor blinks, spinner
// frames) and terminal queries, which a synchronous driver must not chase.
func isInternal(msg tea.Msg) bool {
	name := fmt.Sprintf("%T", msg)
	return strings.HasPrefix(name, "cursor.") || strings.HasPrefix(name, "tea.") || strings.HasPrefix(name, "spinner.")
}

func runCmd(t testing.TB, c tea.Cmd) tea.Msg {
	t.Helper()
	ch := make(chan tea.Msg, 1)
	go func() { ch <- c() }()
	select {
	case msg := <-ch:
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("driver: a command did not return within 10s")
		return nil
	}
}

// screen returns the text on the terminal, without styles.
func (d *driver) screen() string {
	return ansi.Strip(d.m.View().Content)
}

// active returns the active screen.
func (d *driver) active() screen { return d.m.active() }

// waitFor sends nothing, and fails unless the screen shows want.
func (d *driver) mustShow(want string) {
	d.t.Helper()
	if s := d.screen(); !strings.Contains(s, want) {
		d.t.Fatalf("screen does not show %q:\n%s", want, s)
	}
}

func (d *driver) mustNotShow(unwanted string) {
	d.t.Helper()
	if s := d.screen(); strings.Contains(s, unwanted) {
		d.t.Fatalf("screen shows %q:\n%s", unwanted, s)
	}
}

// memDir is a directory.Directory serving fixed entries, a data source for
// screen tests (the store, when a test needs one, is always a real one).
type memDir struct {
	name    string
	entries []directory.Entry
	groups  map[string]*directory.GroupRead
	// searchErr fails searches whose query starts with "(bad".
	mu     sync.Mutex
	closed bool
	// gate, when set, is waited on before each entry is streamed.
	gate chan struct{}
}

func (m *memDir) Name() string         { return m.name }
func (m *memDir) Kind() directory.Kind { return directory.KindLDAP }
func (m *memDir) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func (m *memDir) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *memDir) Search(ctx context.Context, query string, fn func(directory.Entry) error) error {
	if strings.HasPrefix(query, "(bad") {
		return fmt.Errorf("LDAP Result Code 87 \"Filter Error\": bad filter %s", query)
	}
	prefix := strings.ToLower(strings.TrimSuffix(query, "*"))
	for _, e := range m.entries {
		if m.gate != nil {
			select {
			case <-m.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !strings.HasPrefix(strings.ToLower(e.Name), prefix) && query != "*" {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (m *memDir) ReadGroup(ctx context.Context, id string) (*directory.GroupRead, error) {
	g, ok := m.groups[id]
	if !ok {
		return nil, fmt.Errorf("no group %s", id)
	}
	c := *g
	return &c, nil
}

func (m *memDir) LookupUsers(ctx context.Context, ids []string) (map[string]directory.Entry, error) {
	out := map[string]directory.Entry{}
	for _, e := range m.entries {
		for _, id := range ids {
			if e.ExternalID == id {
				out[id] = e
			}
		}
	}
	for _, g := range m.groups {
		for _, e := range g.Members {
			for _, id := range ids {
				if e.ExternalID == id {
					out[id] = e
				}
			}
		}
	}
	return out, nil
}

func user(name, display, email string) directory.Entry {
	return directory.Entry{Type: directory.TypeUser, ExternalID: "uuid-" + name, Name: name, DisplayName: display, Email: email, DN: "uid=" + name + ",ou=people,dc=example,dc=org"}
}

func group(name string) directory.Entry {
	return directory.Entry{Type: directory.TypeGroup, ExternalID: "uuid-g-" + name, Name: name, DN: "cn=" + name + ",ou=groups,dc=example,dc=org", MemberCount: -1}
}

func row(e directory.Entry, state store.State, reason string) resultRow {
	return resultRow{e: e, s: store.Status{State: state, Reason: reason}, checked: true}
}

var lipglossWhite = color.White

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

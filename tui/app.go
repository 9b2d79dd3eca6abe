// Package tui is usersync's terminal interface: the Users app (users,
// groups, their details, synchronizing a group) and the import wizard
// (LDAP servers and Entra ID tenants). It is built on Bubble Tea v2 with
// one root model that owns the screen stack, the size, the styles and the
// key map; screens are plain structs. The package only observes and
// commands: the import rules live in package store, the sources in package
// directory. See README.md in this directory for the rules the UI follows.
package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// Source is a configured directory the wizard can pick.
type Source struct {
	Name string
	Kind directory.Kind
	URL  string
	// NeedsPassword asks for the bind password before connecting (the
	// configuration names no environment variable or file for it).
	NeedsPassword bool
}

// Config is what the app needs from its host (the CLI, or an SSH session).
type Config struct {
	Store *store.Store
	// Sources are the configured directories: LDAP servers, and Entra
	// tenants beside them.
	Sources []Source
	// Open connects to the named source; password is what the user typed
	// when the source NeedsPassword, "" otherwise.
	Open func(ctx context.Context, name, password string) (directory.Directory, error)
	// OpenEntra signs in to the named Entra ID tenant (a Source of kind
	// entra). It returns once the person has signed in (device code: after
	// hooks.Prompt showed the code), the sign-in failed, or ctx was
	// cancelled (Esc on the sign-in screen). The hooks stay in use while
	// the returned source is open (throttling while reading groups). Nil:
	// the wizard cannot import from Entra tenants.
	OpenEntra func(ctx context.Context, name string, hooks EntraHooks) (GroupSource, error)
	// Actor is journaled in runs: the OS user, or the SSH user.
	Actor string
	// ReadOnly may browse but not import or synchronize (SSH read-only keys).
	ReadOnly bool
}

// Start tells which screen the app opens on.
type Start int

// The screens the app can start on.
const (
	// StartUsers opens the Users app; i opens the import wizard from it.
	StartUsers Start = iota
	// StartImport opens the import wizard at its server picker.
	StartImport
)

// Run runs the app on the terminal until the user quits or ctx is done.
// opts are passed to tea.NewProgram (input, output, environment, size for
// SSH sessions and tests).
func Run(ctx context.Context, cfg Config, start Start, opts ...tea.ProgramOption) error {
	m := newModel(cfg, start)
	defer m.closeAll()
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)...)
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Program returns a program running the app, for hosts that drive the
// program themselves (an SSH server sends it window sizes and quits it when
// the client goes away), and a function to call once it has stopped: it
// cancels what the app's screens still run, so that an import cut off by a
// disconnect stops between batches and is journaled as interrupted.
func Program(ctx context.Context, cfg Config, start Start, opts ...tea.ProgramOption) (*tea.Program, func()) {
	m := newModel(cfg, start)
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)...)
	return p, m.closeAll
}

// New returns the root model, for hosts that run their own tea.Program
// (an SSH server) and for tests.
func New(cfg Config, start Start) tea.Model { return newModel(cfg, start) }

// shared is what every screen reads: the host's configuration, the styles,
// the key map, and the screen id counter.
type shared struct {
	cfg    Config
	st     *styles
	keys   keyMap
	lastID screenID
	// changes counts the writes made from the app (runs, copies): a
	// screen that was hidden reloads when it has not seen them.
	changes uint64
}

func (sh *shared) newID() screenID {
	sh.lastID++
	return sh.lastID
}

// model is the root model: the only tea.Model of the app.
type model struct {
	sh     *shared
	start  Start
	stack  []screen
	width  int
	height int

	help        help.Model
	helpFor     string            // what helpText was rendered for
	helpText    string            // the help line, as last rendered
	helpLook    string            // the look helpItems were rendered in
	helpItems   map[string]string // rendered help items, by key and text
	status      string
	statusErr   bool
	confirmQuit bool // "quit while a run is going?" is being asked
	quitOnIdle  bool // quit as soon as no run is going
	closed      bool
}

func newModel(cfg Config, start Start) *model {
	sh := &shared{cfg: cfg, st: newStyles(true, false), keys: newKeyMap()}
	m := &model{sh: sh, start: start, width: 80, height: 24, help: help.New()}
	m.help.Styles = sh.st.help
	switch start {
	case StartImport:
		m.stack = []screen{newServersScreen(sh)}
	default:
		m.stack = []screen{newUsersScreen(sh)}
	}
	return m
}

// Init asks for the terminal's background and starts the first screen.
func (m *model) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, m.stack[0].Init())
}

func (m *model) active() screen { return m.stack[len(m.stack)-1] }

func (m *model) find(id screenID) screen {
	for _, s := range m.stack {
		if s.ID() == id {
			return s
		}
	}
	return nil
}

// Update handles global keys and the screens' answers, then forwards a
// message to the active screen, or a tagged result to the screen it is for.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if m.quitOnIdle && !m.busy() {
		m.closeAll()
		return m, tea.Quit
	}
	return m, cmd
}

func (m *model) update(msg tea.Msg) tea.Cmd {
	k := &m.sh.keys
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.resize()
		return nil
	case tea.BackgroundColorMsg:
		m.restyle(msg.IsDark(), m.sh.st.noColor)
		return nil
	case tea.ColorProfileMsg:
		m.restyle(m.sh.st.dark, msg.Profile <= colorprofile.ASCII)
		return nil
	case tea.EnvMsg:
		if v, ok := msg.LookupEnv("NO_COLOR"); ok && v != "" {
			m.restyle(m.sh.st.dark, true)
		}
		return nil

	case tea.KeyPressMsg:
		if m.confirmQuit {
			m.confirmQuit = false
			if key.Matches(msg, k.Yes) {
				m.quitOnIdle = true
				for _, s := range m.stack {
					if r, ok := s.(runner); ok && r.Busy() {
						r.Stop()
					}
				}
				m.setStatus("Stopping: finishing the current batch…", false)
			}
			return nil
		}
		m.status = ""
		typing := m.active().Typing()
		if c, ok := m.active().(claimer); ok && c.claims(msg) {
			typing = true
		}
		switch {
		case msg.String() == "ctrl+c" || (!typing && key.Matches(msg, k.Quit)):
			return m.quit()
		case msg.String() == "f1" || (!typing && key.Matches(msg, k.Help)):
			m.help.ShowAll = !m.help.ShowAll
			m.resize()
			return nil
		}
		return m.updateScreen(m.active(), msg)

	case tea.MouseClickMsg, tea.MouseWheelMsg:
		mm, ok := toMouse(msg)
		if !ok {
			return nil
		}
		mm.y -= 1 // the title bar
		if mm.y < 0 || mm.y >= m.bodyHeight() {
			return nil
		}
		return m.updateScreen(m.active(), mm)

	case statusMsg:
		m.setStatus(msg.text, msg.isErr)
		return nil
	}

	if t, ok := msg.(tagged); ok {
		s := m.find(t.target().screen)
		if s == nil {
			// The screen that asked is gone: drop the late result, and free
			// what it carries.
			if r, ok := msg.(releaser); ok {
				r.release()
			}
			return nil
		}
		return m.updateScreen(s, msg)
	}
	return m.updateScreen(m.active(), msg)
}

// updateScreen hands msg to s, then applies the navigation s asked for.
func (m *model) updateScreen(s screen, msg tea.Msg) tea.Cmd {
	return m.follow(s, s.Update(msg))
}

// follow applies the navigation s asked for while it returned cmd (from
// Update, Init or revealed), and the navigation of the screens that
// opened, before any other message is read.
func (m *model) follow(s screen, cmd tea.Cmd) tea.Cmd {
	n := s.takeNav()
	if n == nil {
		return cmd
	}
	return tea.Batch(cmd, m.navigate(*n))
}

// navigate moves through the stack as n says.
func (m *model) navigate(n nav) tea.Cmd {
	switch n.kind {
	case navPush:
		return m.push(n.s)
	case navReplace:
		m.pop()
		return m.push(n.s)
	case navBack:
		if len(m.stack) == 1 {
			return m.deliver(n.result)
		}
		m.pop()
		return tea.Batch(m.reveal(), m.deliver(n.result))
	case navBackTo:
		popped := false
		for len(m.stack) > 1 && m.active().ID() != n.to {
			m.pop()
			popped = true
		}
		if !popped {
			return m.deliver(n.result)
		}
		return tea.Batch(m.reveal(), m.deliver(n.result))
	case navQuit:
		return m.quit()
	case navHelp:
		m.help.ShowAll = !m.help.ShowAll
		m.resize()
	}
	return nil
}

// deliver hands a screen's result to whom it is for (tagged), or to the
// now active screen.
func (m *model) deliver(msg tea.Msg) tea.Cmd {
	if msg == nil {
		return nil
	}
	return func() tea.Msg { return msg }
}

// reveal tells the screen now on top that the screens above it closed.
func (m *model) reveal() tea.Cmd {
	if r, ok := m.active().(revealer); ok {
		return m.follow(m.active(), r.revealed())
	}
	return nil
}

func (m *model) push(s screen) tea.Cmd {
	m.stack = append(m.stack, s)
	m.layout(s)
	return m.follow(s, s.Init())
}

func (m *model) pop() {
	s := m.active()
	m.stack = m.stack[:len(m.stack)-1]
	s.Close()
}

func (m *model) quit() tea.Cmd {
	if m.busy() {
		m.confirmQuit = true
		return nil
	}
	m.closeAll()
	return tea.Quit
}

// busy reports whether an import or sync is writing to the store.
func (m *model) busy() bool {
	for _, s := range m.stack {
		if r, ok := s.(runner); ok && r.Busy() {
			return true
		}
	}
	return false
}

func (m *model) closeAll() {
	if m.closed {
		return
	}
	m.closed = true
	for i := len(m.stack) - 1; i >= 0; i-- {
		m.stack[i].Close()
	}
}

func (m *model) setStatus(text string, isErr bool) {
	m.status, m.statusErr = text, isErr
}

func (m *model) restyle(dark, noColor bool) {
	m.sh.st.set(dark, noColor)
	m.help.Styles = m.sh.st.help
	for _, s := range m.stack {
		if r, ok := s.(restyler); ok {
			r.restyle()
		}
	}
}

func (m *model) helpView() string {
	if m.confirmQuit {
		return m.sh.st.warn.Render("A run is writing to the store. Quit? It stops after the current batch; finished batches stay. (y/N)")
	}
	h := m.withGlobal(m.active().Help())
	if m.help.ShowAll {
		return m.fullHelp(h.full)
	}
	return m.shortHelp(h)
}

// shortHelp renders the help line: the screen's keys, cut with … when they
// do not fit, then always the way back (esc), how to get help and how to
// quit, which are never cut.
func (m *model) shortHelp(h helpMap) string {
	// The line is rendered again only when its keys, the width or the
	// look changed: not at every keystroke.
	var kb strings.Builder
	look := fmt.Sprintf("%v %v", m.sh.st.dark, m.sh.st.noColor)
	fmt.Fprintf(&kb, "%d %s", m.width, look)
	for _, b := range append(h.short, h.tail...) {
		kb.WriteString("\x00" + b.Help().Key + "\x01" + b.Help().Desc)
	}
	if kb.String() == m.helpFor {
		return m.helpText
	}
	if look != m.helpLook {
		m.helpLook, m.helpItems = look, map[string]string{}
	}
	m.helpFor, m.helpText = kb.String(), m.renderShortHelp(h)
	return m.helpText
}

func (m *model) renderShortHelp(h helpMap) string {
	st := m.help.Styles
	sep := st.ShortSeparator.Inline(true).Render(m.help.ShortSeparator)
	item := func(b key.Binding) string {
		// Each item is rendered once per look: keys come back on every
		// screen, and Enter's text changes with the row.
		k := b.Help().Key + "\x00" + b.Help().Desc
		if it, ok := m.helpItems[k]; ok {
			return it
		}
		it := st.ShortKey.Inline(true).Render(b.Help().Key) + " " + st.ShortDesc.Inline(true).Render(b.Help().Desc)
		if len(m.helpItems) > 256 {
			clear(m.helpItems)
		}
		m.helpItems[k] = it
		return it
	}
	var tail []string
	for _, b := range h.tail {
		tail = append(tail, item(b))
	}
	tailS := strings.Join(tail, sep)
	ellipsis := st.Ellipsis.Inline(true).Render(m.help.Ellipsis)
	room := m.width - ansi.StringWidth(tailS) - ansi.StringWidth(sep)
	var head []string
	used := 0
	for i, b := range h.short {
		it := item(b)
		w := ansi.StringWidth(it)
		if len(head) > 0 {
			w += ansi.StringWidth(sep)
		}
		// Room for this item, and for the ellipsis when more follow.
		need := used + w
		if i < len(h.short)-1 {
			need += 2
		}
		if need > room {
			if used+2 <= room && len(head) > 0 {
				head[len(head)-1] += " " + ellipsis
			}
			break
		}
		head = append(head, it)
		used += w
	}
	if len(head) == 0 {
		return tailS
	}
	return strings.Join(head, sep) + sep + tailS
}

// fullHelp renders every column of the full help (?): columns that do not
// fit beside the others wrap onto more rows (as lazygit and k9s do), so no
// key is ever left out.
func (m *model) fullHelp(cols [][]key.Binding) string {
	hm := m.help
	hm.SetWidth(0)
	sep := hm.Styles.FullSeparator.Inline(true).Render(hm.FullSeparator)
	sepW := ansi.StringWidth(sep)
	var rows, row []string
	w := 0
	for _, col := range cols {
		if len(col) == 0 {
			continue
		}
		block := hm.FullHelpView([][]key.Binding{col})
		bw := lipgloss.Width(block)
		if len(row) > 0 && w+sepW+bw > m.width {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, w = nil, 0
		}
		if len(row) > 0 {
			row = append(row, sep)
			w += sepW
		}
		row = append(row, block)
		w += bw
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	return strings.Join(rows, "\n")
}

// withGlobal adds the keys every screen has to a screen's help: the
// screen's Esc moves to the tail of the line, beside ? (help) and q
// (quit), the ways to get help and to leave that every screen shows. Esc
// is left out on the first screen (there is nothing to go back to); while
// a text input takes letters, F1 is the help and ctrl+c quits.
func (m *model) withGlobal(h helpMap) helpMap {
	k := m.sh.keys
	root := len(m.stack) == 1
	typing := m.active().Typing()
	var short, back []key.Binding
	move := false
	for _, b := range h.short {
		switch b.Help().Key {
		case k.Up.Help().Key, k.Down.Help().Key:
			// ↑ and ↓ are one item, the last of the screen's keys: the
			// keys that say what this screen does come first.
			move = true
		case "esc":
			if !root || typing {
				back = append(back, b)
			}
		default:
			short = append(short, b)
		}
	}
	if move {
		short = append(short, k.Move)
	}
	helpKey := with(k.Help, "help")
	if m.help.ShowAll {
		helpKey = with(k.Help, "close help")
	}
	quit := k.Quit
	if typing {
		helpKey = key.NewBinding(key.WithKeys("f1"), key.WithHelp("f1", helpKey.Help().Desc))
		quit = key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))
	}
	tail := append(back, helpKey, quit)
	var full [][]key.Binding
	for _, col := range h.FullHelp() {
		var keep []key.Binding
		for _, b := range col {
			if !(root && !typing && b.Help().Key == "esc") {
				keep = append(keep, b)
			}
		}
		full = append(full, keep)
	}
	full = append(full, []key.Binding{helpKey, with(k.Quit, "quit (q, ctrl+c)")})
	return helpMap{short: short, tail: tail, full: full}
}

func (m *model) bodyHeight() int {
	h := m.height - 2 // title bar, help line
	if m.help.ShowAll {
		h = m.height - 1 - lineCount(m.helpView())
	}
	return max(1, h)
}

func (m *model) resize() {
	for _, s := range m.stack {
		m.layout(s)
	}
}

func (m *model) layout(s screen) {
	s.SetSize(m.width, m.bodyHeight())
}

// View draws the title bar, the active screen and the help.
func (m *model) View() tea.View {
	var b strings.Builder
	b.WriteString(m.titleBar())
	b.WriteByte('\n')
	b.WriteString(fit(m.active().View(), m.width, m.bodyHeight()))
	b.WriteByte('\n')
	b.WriteString(fit(m.helpView(), m.width, m.height-1-m.bodyHeight()))
	v := tea.NewView(b.String())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "usersync"
	return v
}

func (m *model) titleBar() string {
	st := m.sh.st
	var crumbs []string
	for _, s := range m.stack {
		if t := s.Title(); t != "" {
			crumbs = append(crumbs, t)
		}
	}
	left := "usersync › " + visible.String(strings.Join(crumbs, " › "))
	right := ""
	switch {
	case m.status != "" && m.statusErr:
		right = glyphWarning + " " + visible.String(m.status)
	case m.status != "":
		right = visible.String(m.status)
	case m.sh.cfg.ReadOnly:
		right = "read-only"
	}
	width := m.width - 2 // the bar's padding
	rw := ansi.StringWidth(right)
	if rw > width/2 {
		right = ansi.Truncate(right, width/2, "…")
		rw = ansi.StringWidth(right)
	}
	lw := width - rw - 1
	if ansi.StringWidth(left) > lw {
		left = ansi.TruncateLeft(left, ansi.StringWidth(left)-lw+1, "…")
	}
	gap := max(1, width-ansi.StringWidth(left)-rw)
	line := left + strings.Repeat(" ", gap) + right
	return st.title.Width(m.width).MaxWidth(m.width).Render(line)
}

// fit cuts or pads s to exactly h lines of at most w cells.
func fit(s string, w, h int) string {
	if h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func lineCount(s string) int { return strings.Count(s, "\n") + 1 }

package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"
)

// screen is one screen of the app. Screens are plain structs driven by the
// root model: it sizes them, forwards keys to the active one and results to
// the one they are for, and closes them when they leave the stack. A screen
// says where to go next with a nav value (see navKind) and hands results
// back as typed messages; it never reaches into its parent.
type screen interface {
	ID() screenID
	// Title is the screen's part of the breadcrumb in the title bar.
	Title() string
	// Init starts what the screen needs when it is pushed (loads run in
	// commands).
	Init() tea.Cmd
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
	// Help lists the keys the screen uses now.
	Help() helpMap
	// Typing reports whether a text input has the focus: letters then go
	// to it, not to global keys such as q and ?.
	Typing() bool
	// Close cancels the screen's I/O and frees what it holds.
	Close()
	// takeNav returns the navigation the screen asked for since it was
	// last taken, and forgets it (base implements it).
	takeNav() *nav
}

// runner is a screen that writes to the store in the background.
type runner interface {
	Busy() bool
	Stop()
}

// restyler is a screen holding copies of styles (text inputs) that must be
// refreshed when the shared styles change.
type restyler interface{ restyle() }

// claimer is a screen that may take a key the root would otherwise take
// (q, ?): a list where it may start a name typed for a new search.
type claimer interface {
	claims(msg tea.KeyPressMsg) bool
}

// revealer is a screen that reloads when the screens above it close
// (what it shows may have changed meanwhile).
type revealer interface{ revealed() tea.Cmd }

// screenID names one screen instance for the lifetime of the app.
type screenID uint64

// tag marks a command's result with the screen that asked and the
// generation of the request: a result for a closed screen, or for a request
// since superseded, is dropped.
type tag struct {
	screen screenID
	gen    uint64
}

// tagged is a result of I/O, for one screen.
type tagged interface{ target() tag }

// releaser is a tagged result holding something (an open directory) to free
// if it is dropped.
type releaser interface{ release() }

// Navigation is a value, not a message. A screen's Update says where to go
// next by calling one of base's navigation methods (push, replace, back,
// backWith, backTo, quit), which record a nav in the screen; the root takes
// it (takeNav) as soon as the screen's Update, Init or revealed returns and
// applies it before it reads the next message. Nothing travels through a
// command, so a second key queued behind the first (two Enters on a
// summary) is read by the screen that the first key opened.
type navKind int

const (
	navPush    navKind = iota + 1 // open s on top of the current screen
	navReplace                    // replace the current screen with s
	navBack                       // close the current screen, hand result on
	navBackTo                     // close screens until to is on top, hand result on
	navQuit                       // quit (confirming while a run is going)
	navHelp                       // show or hide the full help
)

// nav is where a screen goes next. result, when set, is handed to the
// screen it is tagged for, or to the screen now on top.
type nav struct {
	kind   navKind
	s      screen
	to     screenID
	result tea.Msg
}

// statusMsg shows a short message in the title bar.
type statusMsg struct {
	text  string
	isErr bool
}

func send(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

func status(text string) tea.Cmd    { return send(statusMsg{text: text}) }
func statusErr(text string) tea.Cmd { return send(statusMsg{text: text, isErr: true}) }

// base is what every screen embeds: its id, the generation of its current
// request, the context its I/O runs under, and its size.
type base struct {
	sh     *shared
	id     screenID
	gen    uint64
	ctx    context.Context
	cancel context.CancelFunc
	width  int
	height int
	next   *nav // the navigation asked for, until the root takes it
}

func newBase(sh *shared) base {
	ctx, cancel := context.WithCancel(context.Background())
	return base{sh: sh, id: sh.newID(), ctx: ctx, cancel: cancel, width: 80, height: 22}
}

// ID implements screen.
func (b *base) ID() screenID { return b.id }

// SetSize implements screen.
func (b *base) SetSize(w, h int) { b.width, b.height = w, h }

// Typing implements screen: no text input by default.
func (b *base) Typing() bool { return false }

// Close implements screen: cancel what is running.
func (b *base) Close() { b.cancel() }

func (b *base) takeNav() *nav {
	n := b.next
	b.next = nil
	return n
}

// The navigation methods record where to go next and return no command:
// a screen writes `return s.push(next)` from its Update. The last one
// called in an Update wins.
func (b *base) navigate(n nav) tea.Cmd { b.next = &n; return nil }

func (b *base) push(s screen) tea.Cmd    { return b.navigate(nav{kind: navPush, s: s}) }
func (b *base) replace(s screen) tea.Cmd { return b.navigate(nav{kind: navReplace, s: s}) }
func (b *base) back() tea.Cmd            { return b.navigate(nav{kind: navBack}) }
func (b *base) backWith(result tea.Msg) tea.Cmd {
	return b.navigate(nav{kind: navBack, result: result})
}
func (b *base) backTo(id screenID, result tea.Msg) tea.Cmd {
	return b.navigate(nav{kind: navBackTo, to: id, result: result})
}
func (b *base) quit() tea.Cmd { return b.navigate(nav{kind: navQuit}) }

// tag is the tag of the current request.
func (b *base) tag() tag { return tag{b.id, b.gen} }

// renew starts a new request: the previous one is cancelled and its late
// results will be dropped. It returns the new request's tag and context.
func (b *base) renew() (tag, context.Context) {
	b.cancel()
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.gen++
	return b.tag(), b.ctx
}

// fresh reports whether t is the tag of the current request.
func (b *base) fresh(t tag) bool { return t.screen == b.id && t.gen == b.gen }

// mouseKind is what the mouse did.
type mouseKind int

const (
	mouseClick mouseKind = iota
	mouseWheelUp
	mouseWheelDown
)

// mouseMsg is a mouse event in the coordinates of the screen's body (row 0
// is the first line under the title bar).
type mouseMsg struct {
	kind mouseKind
	x, y int
}

func toMouse(msg tea.Msg) (mouseMsg, bool) {
	switch msg := msg.(type) {
	case tea.MouseClickMsg:
		if msg.Button != tea.MouseLeft {
			return mouseMsg{}, false
		}
		return mouseMsg{kind: mouseClick, x: msg.X, y: msg.Y}, true
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			return mouseMsg{kind: mouseWheelUp, x: msg.X, y: msg.Y}, true
		case tea.MouseWheelDown:
			return mouseMsg{kind: mouseWheelDown, x: msg.X, y: msg.Y}, true
		}
	}
	return mouseMsg{}, false
}

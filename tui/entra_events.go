package tui

import (
	"context"
	"fmt"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
)

// DeviceCode is what a person needs to finish a device-code sign-in: open
// URL in a browser (on any machine) and enter Code. Message is Entra's own
// sentence saying both.
type DeviceCode struct {
	URL, Code, Message string
}

// EntraHooks are the wizard's hooks into a sign-in, passed to
// Config.OpenEntra. Both may be called from other goroutines, at any time
// until the directory is closed; they never block.
type EntraHooks struct {
	// Prompt shows the device-code instructions on the sign-in screen.
	Prompt func(DeviceCode)
	// Throttled tells the wizard that Microsoft Graph throttled a request,
	// which is retried after wait.
	Throttled func(wait time.Duration)
}

// GroupSource is a signed-in Entra ID tenant: a directory that also lists
// its groups for the group chooser.
type GroupSource interface {
	directory.Directory
	// ListGroups streams the tenant's groups, each with MemberCount set
	// (-1 when unknown); a non-empty search keeps the groups with a word
	// of their name starting with it, searched by the server.
	ListGroups(ctx context.Context, search string, fn func(directory.Entry) error) error
}

// entraEvents carries what the hooks of one sign-in report, from the
// adapter's goroutines to the screens. The hooks only record and signal;
// screens learn of a change through a command (listen) that returns a
// snapshot as a message, so model state is only ever changed in Update.
type entraEvents struct {
	mu       sync.Mutex
	version  uint64
	changed  chan struct{} // closed, then replaced, at every event
	prompt   *DeviceCode
	throttle throttleState
	now      func() time.Time
}

// throttleState is what the throttling of Graph requests amounts to so far.
type throttleState struct {
	count int           // throttled requests
	total time.Duration // waited in all
	wait  time.Duration // the newest wait
	until time.Time     // when the newest wait ends
}

func newEntraEvents() *entraEvents {
	return &entraEvents{changed: make(chan struct{}), now: time.Now}
}

// hooks are the EntraHooks that feed ev.
func (ev *entraEvents) hooks() EntraHooks {
	return EntraHooks{
		Prompt: func(dc DeviceCode) {
			ev.update(func() { ev.prompt = &dc })
		},
		Throttled: func(wait time.Duration) {
			ev.update(func() {
				t := &ev.throttle
				t.count++
				t.total += wait
				t.wait = wait
				t.until = ev.now().Add(wait)
			})
		},
	}
}

func (ev *entraEvents) update(fn func()) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	fn()
	ev.version++
	close(ev.changed)
	ev.changed = make(chan struct{})
}

// entraEventMsg is a snapshot of a sign-in's events, for the screen that
// listens (by id) with listener generation gen.
type entraEventMsg struct {
	tag      tag
	version  uint64
	prompt   *DeviceCode
	throttle throttleState
}

func (m entraEventMsg) target() tag { return m.tag }

// listen returns a command that waits for an event newer than seen and
// returns its snapshot. It returns nil once ctx ends with nothing new:
// a listener lives as long as the reading it watches (a sign-in, a search,
// the read of the groups), so that no command waits for ever.
func (ev *entraEvents) listen(ctx context.Context, tg tag, seen uint64) tea.Cmd {
	return func() tea.Msg {
		for {
			ev.mu.Lock()
			if ev.version != seen {
				msg := entraEventMsg{tag: tg, version: ev.version, prompt: ev.prompt, throttle: ev.throttle}
				ev.mu.Unlock()
				return msg
			}
			ch := ev.changed
			ev.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				// An event that came with the end is still delivered.
				ev.mu.Lock()
				defer ev.mu.Unlock()
				if ev.version != seen {
					return entraEventMsg{tag: tg, version: ev.version, prompt: ev.prompt, throttle: ev.throttle}
				}
				return nil
			}
		}
	}
}

// entraDir is a signed-in tenant with the events of its sign-in: the
// screens that read from it (the summary, a sync's progress) show its
// throttling.
type entraDir struct {
	GroupSource
	ev *entraEvents
}

// eventsOf returns the events of a signed-in tenant, nil for another
// directory.
func eventsOf(dir directory.Directory) *entraEvents {
	if d, ok := dir.(*entraDir); ok {
		return d.ev
	}
	return nil
}

// throttleWatch is what a screen that reads from Graph keeps to show
// throttling: the listener's state and the newest snapshot.
type throttleWatch struct {
	ev      *entraEvents
	ctx     context.Context // the reading watched
	id      screenID
	gen     uint64 // the listener's generation
	seen    uint64
	state   throttleState
	ticking bool
}

// throttleTickMsg redraws a throttle countdown.
type throttleTickMsg struct{ tag tag }

func (m throttleTickMsg) target() tag { return m.tag }

// start listens while the reading that ctx spans lasts; ev may be nil
// (not an Entra source). A previous listener's messages are dropped.
func (w *throttleWatch) start(ev *entraEvents, id screenID, ctx context.Context) tea.Cmd {
	if ev == nil {
		return nil
	}
	w.ev, w.id, w.ctx = ev, id, ctx
	w.gen++
	return ev.listen(ctx, tag{id, w.gen}, w.seen)
}

// update handles the watch's messages; it reports whether msg was one.
func (w *throttleWatch) update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case entraEventMsg:
		if w.ev == nil || msg.tag != (tag{w.id, w.gen}) {
			return nil, true
		}
		w.seen, w.state = msg.version, msg.throttle
		cmds := []tea.Cmd{w.ev.listen(w.ctx, msg.tag, w.seen)}
		if w.waiting() && !w.ticking {
			w.ticking = true
			cmds = append(cmds, w.tick())
		}
		return tea.Batch(cmds...), true
	case throttleTickMsg:
		if msg.tag.screen != w.id {
			return nil, true
		}
		if !w.waiting() {
			w.ticking = false
			return nil, true
		}
		return w.tick(), true
	}
	return nil, false
}

func (w *throttleWatch) tick() tea.Cmd {
	tg := tag{w.id, w.gen}
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return throttleTickMsg{tag: tg} })
}

func (w *throttleWatch) now() time.Time {
	if w.ev != nil && w.ev.now != nil {
		return w.ev.now()
	}
	return time.Now()
}

// waiting reports whether a throttled request is waiting now.
func (w *throttleWatch) waiting() bool {
	return w.state.count > 0 && w.now().Before(w.state.until)
}

// line is the throttle notice to show, "" when Graph never throttled.
func (w *throttleWatch) line() string {
	t := w.state
	switch {
	case t.count == 0:
		return ""
	case w.waiting():
		left := max(time.Second, t.until.Sub(w.now()).Round(time.Second))
		return fmt.Sprintf("Throttled by Microsoft Graph: waiting %s before retrying", fmtSeconds(left))
	}
	return fmt.Sprintf("Microsoft Graph throttled %s; waited %s in all.", plural(t.count, "request", "requests"), fmtSeconds(t.total))
}

// fmtSeconds renders a wait as "5s", "2m0s".
func fmtSeconds(d time.Duration) string {
	return d.Round(time.Second).String()
}

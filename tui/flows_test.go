package tui

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// These flows drive the whole app through a real tea.Program (teatest) at
// 80x24 with the ASCII colour profile. Screens are compared with golden
// files: go test ./tui/ -run Flow -update refreshes them.

// snapModel wraps the root model to photograph its screen on demand, from
// inside the program's event loop (so a photo is never torn).
type snapModel struct{ inner tea.Model }

type snapMsg struct{ ch chan string }

func (s snapModel) Init() tea.Cmd { return s.inner.Init() }

func (s snapModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m, ok := msg.(snapMsg); ok {
		m.ch <- ansi.Strip(s.inner.View().Content)
		return s, nil
	}
	inner, cmd := s.inner.Update(msg)
	s.inner = inner
	return s, cmd
}

func (s snapModel) View() tea.View { return s.inner.View() }

// flow is one running app.
type flow struct {
	t  *testing.T
	tm *teatest.TestModel
}

func startFlow(t *testing.T, cfg Config, start Start) *flow {
	t.Helper()
	tm := teatest.NewTestModel(t, snapModel{New(cfg, start)},
		teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII), tea.WithEnvironment([]string{"TERM=xterm-256color"})))
	f := &flow{t: t, tm: tm}
	t.Cleanup(func() {
		tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	})
	return f
}

// screen is the app's screen now, without styles.
func (f *flow) screen() string {
	f.t.Helper()
	ch := make(chan string, 1)
	f.tm.Send(snapMsg{ch})
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		f.t.Fatal("the program did not answer a snapshot within 10s")
		return ""
	}
}

// screenReader serves the current screen to teatest.WaitFor, one photo per
// read.
type screenReader struct {
	f       *flow
	pending []byte
	served  bool
}

func (r *screenReader) Read(p []byte) (int, error) {
	if !r.served {
		r.pending, r.served = []byte(r.f.screen()+"\n\x00"), true
	}
	if len(r.pending) == 0 {
		r.served = false
		return 0, io.EOF
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// waitFor waits until the screen shows all of want.
func (f *flow) waitFor(want ...string) {
	f.t.Helper()
	teatest.WaitFor(f.t, &screenReader{f: f}, func(b []byte) bool {
		// Only the newest photo counts.
		if i := bytes.LastIndex(b[:max(0, len(b)-1)], []byte("\x00")); i >= 0 {
			b = b[i+1:]
		}
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

func (f *flow) keys(names ...string) {
	for _, n := range names {
		f.tm.Send(keyPress(n))
	}
}

func (f *flow) typeText(s string) {
	for _, m := range typeText(s) {
		f.tm.Send(m)
	}
}

var (
	timestamps = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}`)
	durations  = regexp.MustCompile(`\(\d+(\.\d+)?(µs|ms|s)\)`)
	ports      = regexp.MustCompile(`127\.0\.0\.1:\d{5}\b`) // ephemeral ports have 5 digits
	spinners   = regexp.MustCompile(`[⣾⣽⣻⢿⡿⣟⣯⣷]`)           // the frames of spinner.Dot
)

// golden compares the screen with testdata/<test>/<name>.golden, after
// masking what changes from run to run (times, test servers' ports,
// spinner frames).
func (f *flow) golden(name string) {
	f.t.Helper()
	s := f.screen()
	s = timestamps.ReplaceAllString(s, "YYYY-MM-DD hh:mm:ss")
	s = durations.ReplaceAllString(s, "(duration)")
	s = ports.ReplaceAllString(s, "127.0.0.1:PORT_")
	s = spinners.ReplaceAllString(s, "*")
	f.t.Run(name, func(t *testing.T) { golden.RequireEqual(t, s) })
}

func (f *flow) mustNotShow(s string) {
	f.t.Helper()
	if sc := f.screen(); strings.Contains(sc, s) {
		f.t.Fatalf("the screen shows %q:\n%s", s, sc)
	}
}

func TestFlow_ServerPickerPasswordIsMasked(t *testing.T) {
	var got string
	f := startFlow(t, wizardConfig(&memDir{name: "dc02"}, &got), StartImport)
	f.waitFor("Pick a directory", "contoso")
	f.golden("01-servers")
	f.keys("end", "enter")
	f.waitFor("cannot sign in to Entra ID tenants: pick an LDAP server")
	f.keys("up", "enter")
	f.waitFor("Bind password for dc02")
	f.typeText("hunter2")
	f.waitFor("•••••••")
	f.mustNotShow("hunter2")
	f.golden("02-password")
	f.keys("enter")
	f.waitFor("Could not connect to dc02", "Invalid Credentials")
	f.golden("03-bad-password")
	if got != "hunter2" {
		t.Fatalf("Open got %q", got)
	}
}

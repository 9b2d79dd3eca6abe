package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersync/usersync/importer"
)

// A terminal is the built binary running in a tmux pane, driven the way a
// person drives it: keys in, the screen read back (capture-pane).
type terminal struct {
	t      *testing.T
	socket string
	out    string // where the pane's last screen is kept when the process exits
}

var terminals atomic.Int64

// requireTmux fails the test when tmux is missing in CI, and skips it
// elsewhere (make test installs tmux).
func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed: make test installs it (Debian package tmux)")
		}
		t.Skip("tmux is not installed (make test installs it)")
	}
}

// startTerminal runs usersync args in the environment e (its store, config
// and extra variables) in a w x h tmux pane, with TERM=xterm-256color. The
// pane is killed when the test ends.
func startTerminal(t *testing.T, e *env, w, h int, args ...string) *terminal {
	t.Helper()
	requireTmux(t)
	m := &terminal{t: t, socket: fmt.Sprintf("usersync-test-%d-%d", os.Getpid(), terminals.Add(1))}
	vars := []string{
		"USERSYNC_STORE=" + e.store,
		"XDG_DATA_HOME=" + filepath.Join(e.dir, "xdg-data"),
		"XDG_CONFIG_HOME=" + filepath.Join(e.dir, "xdg-config"),
		"TERM=xterm-256color",
		"HOME=" + os.Getenv("HOME"),
		"PATH=" + os.Getenv("PATH"),
	}
	if _, err := os.Stat(e.config); err == nil {
		vars = append(vars, "USERSYNC_CONFIG="+e.config)
	}
	vars = append(vars, e.extra...)
	quoted := make([]string, 0, len(args)+1)
	quoted = append(quoted, importer.ShellQuote(binary))
	for _, a := range args {
		quoted = append(quoted, importer.ShellQuote(a))
	}
	// After the program exits the pane stays (remain-on-exit) so that its
	// last screen and exit status can be read.
	script := "exec env -i " + strings.Join(quotedAll(vars), " ") + " " + strings.Join(quoted, " ")
	m.tmux("-f", "/dev/null", "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "-s", "t", "sh", "-c", script,
		";", "set-option", "-t", "t", "remain-on-exit", "on")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", m.socket, "kill-server").Run() })
	return m
}

func quotedAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = importer.ShellQuote(s)
	}
	return out
}

func (m *terminal) tmux(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", m.socket}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, Escape, Space, Down, C-c, "a").
func (m *terminal) keys(names ...string) {
	m.t.Helper()
	m.tmux(append([]string{"send-keys", "-t", "t"}, names...)...)
}

// typeText types s literally.
func (m *terminal) typeText(s string) {
	m.t.Helper()
	m.tmux("send-keys", "-t", "t", "-l", s)
}

// screen is what the pane shows now, without colours.
func (m *terminal) screen() string {
	m.t.Helper()
	return m.tmux("capture-pane", "-t", "t", "-p")
}

// waitFor polls the screen until it shows every one of want, and returns
// it; after 20 seconds the test fails with the last screen.
func (m *terminal) waitFor(want ...string) string {
	m.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := m.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the screen did not show %q within 20s:\n%s", missing, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExit waits until the program has exited and returns its exit status.
func (m *terminal) waitExit() int {
	m.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := strings.TrimSpace(m.tmux("display-message", "-t", "t", "-p", "#{pane_dead} #{pane_dead_status}"))
		var dead, status int
		fmt.Sscan(out, &dead, &status)
		if dead == 1 {
			return status
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the program did not exit within 20s:\n%s", m.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

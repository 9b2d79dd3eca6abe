// Package tape checks the repository's demo.tape against the real binary:
// the tape is parsed with VHS's own parser and replayed in a tmux pane, so a
// screen it waits for that never comes fails the test. VHS itself cannot
// record here (it needs ttyd and a browser); this keeps the tape from rotting.
package tape

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/vhs/lexer"
	"github.com/charmbracelet/vhs/parser"
	"github.com/charmbracelet/vhs/token"
)

// The pane the tape is replayed in: the tape's Width, Height, FontSize and
// Padding are chosen to give about this many cells.
const cols, rows = 80, 24

// sleepScale shortens the tape's Sleeps: they pace a recording, not the app.
const sleepScale = 10

// keys maps VHS key commands to tmux key names.
var keys = map[parser.CommandType]string{
	token.ENTER: "Enter", token.ESCAPE: "Escape", token.SPACE: "Space", token.TAB: "Tab",
	token.BACKSPACE: "BSpace", token.DELETE: "DC", token.INSERT: "IC",
	token.UP: "Up", token.DOWN: "Down", token.LEFT: "Left", token.RIGHT: "Right",
	token.PAGE_UP: "PPage", token.PAGE_DOWN: "NPage",
}

func parseTape(t *testing.T, path string) []parser.Command {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := parser.New(lexer.New(string(src)))
	cmds := p.Parse()
	for _, e := range p.Errors() {
		t.Errorf("%s:%d: %s", path, e.Token.Line, e.Msg)
	}
	if t.Failed() {
		t.FailNow()
	}
	return cmds
}

func TestDemoTapeParses(t *testing.T) {
	cmds := parseTape(t, filepath.Join("..", "..", "demo.tape"))
	waits := 0
	for _, c := range cmds {
		if c.Type == token.WAIT {
			waits++
		}
	}
	if waits < 10 {
		t.Errorf("demo.tape waits for %d screens: every screen change should have a Wait+Screen", waits)
	}
}

// pane is a tmux session on its own server socket.
type pane struct {
	t      *testing.T
	socket string
}

func (p *pane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (p *pane) screen() string { return p.tmux("capture-pane", "-t", "tape", "-p") }

func TestDemoTapeReplays(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed: make test installs it (Debian package tmux)")
		}
		t.Skip("tmux is not installed")
	}
	cmds := parseTape(t, filepath.Join("..", "..", "demo.tape"))

	// The binary, built from the repository as a user would.
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "usersync"), "./cmd/usersync")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build usersync: %v\n%s", err, out)
	}

	home := t.TempDir()
	p := &pane{t: t, socket: fmt.Sprintf("usersync-tape-%d", os.Getpid())}
	env := []string{
		"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + home, "TERM=xterm-256color",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"PS1=$ ",
	}
	var quoted []string
	for _, e := range env {
		quoted = append(quoted, "'"+strings.ReplaceAll(e, "'", `'\''`)+"'")
	}
	p.tmux("-f", "/dev/null", "new-session", "-d", "-s", "tape", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows),
		"env -i "+strings.Join(quoted, " ")+" bash --norc --noprofile")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", p.socket, "kill-server").Run() })

	waitTimeout := 15 * time.Second
	for i, c := range cmds {
		where := fmt.Sprintf("command %d (%s %s %s)", i+1, c.Type, c.Options, c.Args)
		switch {
		case c.Type == token.SET:
			if c.Options == "WaitTimeout" {
				d, err := time.ParseDuration(c.Args)
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				waitTimeout = d
			}
		case c.Type == token.OUTPUT, c.Type == token.HIDE, c.Type == token.SHOW:
		case c.Type == token.REQUIRE:
			if _, err := os.Stat(filepath.Join(bin, c.Args)); err != nil && c.Args != "usersync" {
				if _, err := exec.LookPath(c.Args); err != nil {
					t.Fatalf("%s: %s is not installed", where, c.Args)
				}
			}
		case c.Type == token.TYPE:
			p.tmux("send-keys", "-t", "tape", "-l", c.Args)
		case keys[c.Type] != "":
			n, err := strconv.Atoi(c.Args)
			if err != nil || n < 1 {
				n = 1
			}
			for range n {
				p.tmux("send-keys", "-t", "tape", keys[c.Type])
				time.Sleep(20 * time.Millisecond)
			}
		case c.Type == token.CTRL:
			p.tmux("send-keys", "-t", "tape", "C-"+strings.ToLower(strings.ReplaceAll(c.Args, " ", "")))
		case c.Type == token.SLEEP:
			d, err := time.ParseDuration(c.Args)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			time.Sleep(d / sleepScale)
		case c.Type == token.WAIT:
			kind, pattern, _ := strings.Cut(c.Args, " ")
			re, err := regexp.Compile(pattern)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			timeout := waitTimeout
			if c.Options != "" {
				if d, err := time.ParseDuration(c.Options); err == nil {
					timeout = d
				}
			}
			deadline := time.Now().Add(timeout)
			for {
				s := p.screen()
				if kind == "Line" {
					lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
					s = lines[len(lines)-1]
				}
				if re.MatchString(s) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("demo.tape %s: the screen did not match /%s/ within %s:\n%s", where, pattern, timeout, p.screen())
				}
				time.Sleep(50 * time.Millisecond)
			}
		default:
			t.Fatalf("%s: the replay does not know this command", where)
		}
		// VHS types and presses keys at a human pace; so do we, a little.
		time.Sleep(30 * time.Millisecond)
	}
}

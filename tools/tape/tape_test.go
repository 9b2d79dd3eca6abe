package tape

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/vhs/parser"
	"github.com/charmbracelet/vhs/token"
)

// showScreens logs every command of the demo's replay and the screen each
// Wait matched: go test ./tape -run DemoTape_Replays -v -args -screens
var showScreens = flag.Bool("screens", false, "log the replay's commands and the screens its Waits matched")

// demoTape is the repository's tape, relative to this package.
var demoTape = filepath.Join("..", "..", "demo.tape")

// sleepScale shortens the tape's Sleeps and typing: they pace a recording,
// not the program.
const sleepScale = 10

func parseFile(t *testing.T, path string) []parser.Command {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := Parse(string(src))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cmds
}

// requireTmux skips a test without tmux, except in CI, where make test
// installs it and its absence is a failure.
func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed: make test installs it (Debian package tmux)")
		}
		t.Skip("tmux is not installed (Debian package tmux)")
	}
}

func TestDemoTape_FixesHowTheRecordingLooks(t *testing.T) {
	cmds := parseFile(t, demoTape)
	set := map[string]bool{}
	waits := 0
	for _, c := range cmds {
		switch c.Type {
		case token.SET:
			set[c.Options] = true
		case token.WAIT:
			waits++
			if !strings.HasPrefix(c.Args, "Screen ") {
				t.Errorf("Wait %s: the demo waits for screens (Wait+Screen /regex/)", c.Args)
			}
		}
	}
	for _, name := range []string{"Shell", "Width", "Height", "FontSize", "FontFamily", "LineHeight", "Theme", "Padding", "TypingSpeed"} {
		if !set[name] {
			t.Errorf("demo.tape does not Set %s: every recording should look the same", name)
		}
	}
	if waits < 30 {
		t.Errorf("demo.tape waits for %d screens: every screen change should have a Wait+Screen", waits)
	}
}

// The demo is recorded in the terminal the product promises to fit.
func TestDemoTape_RecordsAn80x24Terminal(t *testing.T) {
	s, err := SettingsOf(parseFile(t, demoTape))
	if err != nil {
		t.Fatal(err)
	}
	cols, rows, err := s.Terminal()
	if err != nil {
		t.Fatal(err)
	}
	if cols != 80 || rows != 24 {
		t.Errorf("demo.tape's Width %d, Height %d, Padding %d, FontSize %d, LineHeight %g give a %dx%d terminal, want 80x24",
			s.Width, s.Height, s.Padding, s.FontSize, s.LineHeight, cols, rows)
	}
}

func TestDemoTape_Replays(t *testing.T) {
	requireTmux(t)
	cmds := parseFile(t, demoTape)
	s, err := SettingsOf(cmds)
	if err != nil {
		t.Fatal(err)
	}
	cols, rows, err := s.Terminal()
	if err != nil {
		t.Fatal(err)
	}

	// The binary, built from the repository as a user would.
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "usersync"), "./cmd/usersync")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build usersync: %v\n%s", err, out)
	}
	t.Logf("built usersync in %s", time.Since(start).Round(time.Millisecond))

	home := t.TempDir()
	path := bin + ":" + os.Getenv("PATH")
	env := append([]string{
		"PATH=" + path, "HOME=" + home, "TERM=xterm-256color", "LANG=C.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
	}, Env(cmds)...)
	pane, err := StartPane(s.Shell, cols, rows, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pane.Close)

	r := &Replay{Pane: pane, SleepScale: sleepScale}
	if *showScreens {
		r.Log = logWriter{t}
	}
	start = time.Now()
	if err := r.Run(cmds, path); err != nil {
		t.Fatalf("demo.tape in a %dx%d pane: %v", cols, rows, err)
	}
	t.Logf("replayed demo.tape (%d commands) in a %dx%d pane in %s", len(cmds), cols, rows, time.Since(start).Round(time.Millisecond))
}

// A Wait that never matches fails the replay, naming the command and
// showing the screen; the Waits before it pass.
func TestReplay_FailsWhenAWaitNeverMatches(t *testing.T) {
	t.Parallel()
	requireTmux(t)
	cmds, err := Parse(`Set WaitTimeout 700ms
Type "echo hello"
Enter
Wait+Screen /(?m)^hello$/
Wait+Screen /goodbye/
Type "echo never"
`)
	if err != nil {
		t.Fatal(err)
	}
	pane, err := StartPane("bash", 40, 10, []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pane.Close)
	start := time.Now()
	err = (&Replay{Pane: pane, SleepScale: sleepScale}).Run(cmds, os.Getenv("PATH"))
	var we *WaitError
	if !errors.As(err, &we) {
		t.Fatalf("replay: %v, want a WaitError", err)
	}
	if we.Line != 5 || !strings.Contains(we.Command, "goodbye") || we.Timeout != 700*time.Millisecond {
		t.Errorf("WaitError for command %d %q after %s, want command 5 (/goodbye/) after 700ms", we.Line, we.Command, we.Timeout)
	}
	if !strings.Contains(we.Screen, "hello") || strings.Contains(we.Screen, "never") {
		t.Errorf("the error shows the screen when the Wait gave up; got:\n%s", we.Screen)
	}
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("the Wait gave up after %s, before its timeout", d)
	}
}

// The keys a tape presses reach the program as a terminal sends them.
func TestReplay_SendsKeysAsTheTapeSays(t *testing.T) {
	t.Parallel()
	requireTmux(t)
	cmds, err := Parse(`Set WaitTimeout 5s
Type "cat -vT"
Enter
Sleep 1s
Type "x y"
Down 2
Tab
Ctrl+A
Alt+b
Enter
Wait+Screen /(?m)^x y\^\[\[B\^\[\[B\^I\^A\^\[b$/
Ctrl+C
Wait
Require cat
`)
	if err != nil {
		t.Fatal(err)
	}
	pane, err := StartPane("bash", 60, 10, []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pane.Close)
	if err := (&Replay{Pane: pane, SleepScale: sleepScale}).Run(cmds, os.Getenv("PATH")); err != nil {
		t.Fatal(err)
	}
	// Require fails for a program that is not there.
	cmds, err = Parse("Require no-such-program-here\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Replay{Pane: pane}).Run(cmds, os.Getenv("PATH")); err == nil || !strings.Contains(err.Error(), "no-such-program-here") {
		t.Errorf("Require of a missing program: %v, want an error naming it", err)
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

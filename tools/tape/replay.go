// Package tape replays VHS tapes against real programs in tmux. VHS itself
// cannot record on a machine without ttyd and a browser, but its parser can
// still read a tape: Replay plays the parsed commands into a tmux pane of the
// size VHS would give the terminal, and a Wait that never matches fails the
// replay with the screen it saw. It is how `make test` keeps demo.tape from
// rotting; it is not a recorder.
package tape

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/vhs/lexer"
	"github.com/charmbracelet/vhs/parser"
	"github.com/charmbracelet/vhs/token"
)

// Parse reads a tape with VHS's own lexer and parser; it fails on the first
// errors VHS would report.
func Parse(src string) ([]parser.Command, error) {
	p := parser.New(lexer.New(src))
	cmds := p.Parse()
	if errs := p.Errors(); len(errs) > 0 {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.String())
		}
		return nil, fmt.Errorf("tape does not parse:\n%s", strings.Join(msgs, "\n"))
	}
	return cmds, nil
}

// Settings are the tape's Set commands that decide the terminal's size and
// pace, with VHS v0.10.0's defaults for those a tape leaves out.
type Settings struct {
	Width, Height, Padding, Margin int
	MarginFill                     string
	WindowBar                      string
	WindowBarSize                  int
	FontFamily                     string
	FontSize                       int
	LineHeight, LetterSpacing      float64
	TypingSpeed                    time.Duration
	WaitTimeout                    time.Duration
	WaitPattern                    string
	Shell                          string
}

// SettingsOf collects the Set commands of a parsed tape.
func SettingsOf(cmds []parser.Command) (Settings, error) {
	s := Settings{
		Width: 1200, Height: 600, Padding: 60, WindowBarSize: 30,
		FontSize: 22, LineHeight: 1, TypingSpeed: 50 * time.Millisecond,
		WaitTimeout: 15 * time.Second, WaitPattern: ">$", Shell: "bash",
	}
	for _, c := range cmds {
		if c.Type != token.SET {
			continue
		}
		var err error
		switch c.Options {
		case "Width":
			s.Width, err = strconv.Atoi(c.Args)
		case "Height":
			s.Height, err = strconv.Atoi(c.Args)
		case "Padding":
			s.Padding, err = strconv.Atoi(c.Args)
		case "Margin":
			s.Margin, err = strconv.Atoi(c.Args)
		case "MarginFill":
			s.MarginFill = c.Args
		case "WindowBar":
			s.WindowBar = c.Args
		case "WindowBarSize":
			s.WindowBarSize, err = strconv.Atoi(c.Args)
		case "FontFamily":
			s.FontFamily = c.Args
		case "FontSize":
			s.FontSize, err = strconv.Atoi(c.Args)
		case "LineHeight":
			s.LineHeight, err = strconv.ParseFloat(c.Args, 64)
		case "LetterSpacing":
			s.LetterSpacing, err = strconv.ParseFloat(c.Args, 64)
		case "TypingSpeed":
			s.TypingSpeed, err = time.ParseDuration(c.Args)
		case "WaitTimeout":
			s.WaitTimeout, err = time.ParseDuration(c.Args)
		case "WaitPattern":
			s.WaitPattern = c.Args
		case "Shell":
			s.Shell = c.Args
		}
		if err != nil {
			return s, fmt.Errorf("Set %s %s: %w", c.Options, c.Args, err)
		}
	}
	return s, nil
}

// DejaVu Sans Mono's metrics in font units (2048 per em): the advance width
// of every glyph, and the ascent and descent that make its line box.
const dejaVuUnitsPerEm, dejaVuAdvance, dejaVuAscent, dejaVuDescent = 2048, 1233, 1901, 483

// Terminal returns the columns and rows of the terminal VHS records with
// these settings. VHS sizes the browser page to Width×Height less the
// padding, the margin and the window bar; ttyd's page pads the terminal by
// 5px on each side; xterm.js (5.5, canvas renderer) makes a cell
// floor(advance) wide and floor(line box × LineHeight) tall, and its fit
// addon keeps 15px for the scroll bar. The font must be DejaVu Sans Mono,
// the one whose metrics are known here: with another, the size is a guess,
// and Terminal says so. The results were checked against xterm.js 5.5 with
// ttyd's CSS in headless Chromium (see terminal_test.go).
func (s Settings) Terminal() (cols, rows int, err error) {
	if family, _, _ := strings.Cut(s.FontFamily, ","); strings.TrimSpace(family) != "DejaVu Sans Mono" {
		return 0, 0, fmt.Errorf("Set FontFamily %q: the terminal's size is only known for \"DejaVu Sans Mono\"", s.FontFamily)
	}
	fs := float64(s.FontSize)
	charW := math.Floor(fs * dejaVuAdvance / dejaVuUnitsPerEm)
	charH := math.Round(fs*dejaVuAscent/dejaVuUnitsPerEm) + math.Round(fs*dejaVuDescent/dejaVuUnitsPerEm)
	cellW := charW + math.Round(s.LetterSpacing)
	cellH := math.Floor(charH * s.LineHeight)
	margin := 0
	if s.MarginFill != "" {
		margin = s.Margin
	}
	bar := 0
	if s.WindowBar != "" {
		bar = s.WindowBarSize
	}
	const ttydPadding, scrollBar = 10, 15
	w := s.Width - 2*s.Padding - 2*margin - ttydPadding - scrollBar
	h := s.Height - 2*s.Padding - 2*margin - bar - ttydPadding
	if cellW <= 0 || cellH <= 0 || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("Width %d, Height %d, Padding %d, FontSize %d leave no room for a terminal", s.Width, s.Height, s.Padding, s.FontSize)
	}
	return max(2, int(float64(w)/cellW)), max(1, int(float64(h)/cellH)), nil
}

// Pane is a tmux session on a server of its own, running a shell.
type Pane struct {
	socket string
}

// StartPane starts a tmux server with one cols×rows pane running shell
// ("bash" or "sh", without its startup files, with the prompt "> " as VHS
// gives it) in the environment env only, and returns once the prompt shows.
func StartPane(shell string, cols, rows int, env []string) (*Pane, error) {
	if _, err := exec.LookPath("tmux"); err != nil {
		return nil, err
	}
	var argv string
	switch shell {
	case "bash":
		argv = "bash --noprofile --norc --login +o history" // as VHS starts it
	case "sh":
		argv = "sh"
	default:
		return nil, fmt.Errorf("Set Shell %q: the replay knows bash and sh", shell)
	}
	quoted := []string{"env", "-i"}
	for _, e := range append(slices.Clip(env), "PS1=> ") {
		quoted = append(quoted, "'"+strings.ReplaceAll(e, "'", `'\''`)+"'")
	}
	p := &Pane{socket: fmt.Sprintf("tape-%d-%d", os.Getpid(), time.Now().UnixNano())}
	if _, err := p.tmux("-f", "/dev/null", "new-session", "-d", "-s", "tape",
		"-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), strings.Join(quoted, " ")+" "+argv); err != nil {
		return nil, err
	}
	// Like VHS, start once the shell is ready: keys typed before its line
	// editor starts are echoed twice.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if screen, err := p.Screen(); err == nil && strings.HasSuffix(screen, ">") {
			return p, nil
		}
		if time.Now().After(deadline) {
			screen, _ := p.Screen()
			p.Close()
			return nil, fmt.Errorf("%s in tmux did not show its prompt within 10s:\n%s", shell, screen)
		}
	}
}

func (p *Pane) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tmux %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Close stops the pane's tmux server and everything running in it.
func (p *Pane) Close() { _, _ = p.tmux("kill-server") }

// Screen is the pane's text as VHS's Wait+Screen sees the terminal: its
// lines without trailing spaces.
func (p *Pane) Screen() (string, error) {
	out, err := p.tmux("capture-pane", "-t", "tape", "-p")
	return strings.TrimRight(out, "\n"), err
}

// CursorLine is the line the cursor is on, which VHS's Wait+Line matches.
func (p *Pane) CursorLine() (string, error) {
	y, err := p.tmux("display-message", "-t", "tape", "-p", "#{cursor_y}")
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSpace(y))
	if err != nil {
		return "", err
	}
	out, err := p.tmux("capture-pane", "-t", "tape", "-p", "-S", strconv.Itoa(n), "-E", strconv.Itoa(n))
	return strings.TrimRight(out, "\n "), err
}

func (p *Pane) keys(keys ...string) error {
	_, err := p.tmux(append([]string{"send-keys", "-t", "tape"}, keys...)...)
	return err
}

func (p *Pane) literal(s string) error {
	_, err := p.tmux("send-keys", "-t", "tape", "-l", s)
	return err
}

// tmuxKeys names VHS's key commands as tmux's send-keys does.
var tmuxKeys = map[parser.CommandType]string{
	token.ENTER: "Enter", token.ESCAPE: "Escape", token.SPACE: "Space", token.TAB: "Tab",
	token.BACKSPACE: "BSpace", token.DELETE: "DC", token.INSERT: "IC",
	token.UP: "Up", token.DOWN: "Down", token.LEFT: "Left", token.RIGHT: "Right",
	token.PAGE_UP: "PPage", token.PAGE_DOWN: "NPage", token.HOME: "Home", token.END: "End",
}

// escPause follows every Escape: a lone ESC is told from the start of an
// Alt+key or an escape sequence by the pause after it.
const escPause = 100 * time.Millisecond

// Replay plays a parsed tape into a pane.
type Replay struct {
	Pane *Pane
	// SleepScale divides the tape's Sleeps: they pace a recording, not
	// the program. 1 keeps them.
	SleepScale int
	// Log, when set, gets every command as it is played, and the screen
	// each Wait matched.
	Log io.Writer
}

// WaitError is a Wait whose pattern the screen did not match in time.
type WaitError struct {
	Command string        // the tape's command, e.g. Wait+Screen /Found/
	Line    int           // its number among the tape's commands (1-based)
	Timeout time.Duration // how long it waited
	Screen  string        // what the pane showed last
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("command %d, %s: the screen did not match within %s; it showed:\n%s", e.Line, e.Command, e.Timeout, e.Screen)
}

// Run plays cmds in order. Type sends its text literally; key commands
// (with their repeat counts), Ctrl+, Alt+ and Shift+ send tmux keys; Sleep
// sleeps SleepScale times less; Wait polls the screen (or the cursor's line)
// until its pattern matches or its timeout passes; Set WaitTimeout,
// WaitPattern and TypingSpeed apply from where they stand; Require looks the
// program up on the pane's PATH (pathEnv); Copy and Paste go through a
// buffer. Output, Hide, Show, Screenshot and the other settings change
// nothing on a screen and are skipped. Anything else fails the run.
func (r *Replay) Run(cmds []parser.Command, pathEnv string) error {
	s, err := SettingsOf(nil)
	if err != nil {
		return err
	}
	scale := time.Duration(max(1, r.SleepScale))
	var clipboard string
	for i, c := range cmds {
		text := strings.TrimSpace(fmt.Sprintf("%s %s %s", c.Type, c.Options, c.Args))
		if r.Log != nil {
			fmt.Fprintf(r.Log, "%3d %s\n", i+1, text)
		}
		pace := s.TypingSpeed / scale
		if c.Options != "" && c.Type != token.SET && c.Type != token.WAIT {
			// Type@50ms, Down@1s 3: the command's own speed.
			if d, perr := time.ParseDuration(c.Options); perr == nil {
				pace = d / scale
			}
		}
		switch {
		case c.Type == token.SET:
			switch c.Options {
			case "WaitTimeout":
				s.WaitTimeout, err = time.ParseDuration(c.Args)
			case "WaitPattern":
				s.WaitPattern = c.Args
			case "TypingSpeed":
				s.TypingSpeed, err = time.ParseDuration(c.Args)
			}
		case c.Type == token.OUTPUT, c.Type == token.HIDE, c.Type == token.SHOW,
			c.Type == token.SCREENSHOT, c.Type == token.ENV, c.Type == token.SOURCE:
			// Env is given to the shell when the pane starts (see Env);
			// the parser has already inlined a Source.
		case c.Type == token.REQUIRE:
			if !onPath(c.Args, pathEnv) {
				err = fmt.Errorf("%s is not on the PATH", c.Args)
			}
		case c.Type == token.TYPE:
			for _, ch := range c.Args {
				if err = r.Pane.literal(string(ch)); err != nil {
					break
				}
				time.Sleep(pace)
			}
		case c.Type == token.COPY:
			clipboard = c.Args
		case c.Type == token.PASTE:
			err = r.Pane.literal(clipboard)
		case tmuxKeys[c.Type] != "":
			n, convErr := strconv.Atoi(c.Args)
			if convErr != nil || n < 1 {
				n = 1
			}
			for range n {
				if err = r.Pane.keys(tmuxKeys[c.Type]); err != nil {
					break
				}
				if c.Type == token.ESCAPE {
					time.Sleep(escPause)
				}
				time.Sleep(pace)
			}
		case c.Type == token.CTRL, c.Type == token.ALT, c.Type == token.SHIFT:
			var key string
			if key, err = modified(c); err == nil {
				err = r.Pane.keys(key)
				time.Sleep(pace)
			}
		case c.Type == token.SLEEP:
			var d time.Duration
			if d, err = time.ParseDuration(c.Args); err == nil {
				time.Sleep(d / scale)
			}
		case c.Type == token.WAIT:
			err = r.wait(i+1, text, c, s)
		default:
			err = errors.New("the replay does not know this command")
		}
		if err != nil {
			var we *WaitError
			if errors.As(err, &we) {
				return err
			}
			return fmt.Errorf("command %d, %s: %w", i+1, text, err)
		}
	}
	return nil
}

func (r *Replay) wait(n int, text string, c parser.Command, s Settings) error {
	scope, pattern, ok := strings.Cut(c.Args, " ")
	if !ok {
		pattern = s.WaitPattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return err
	}
	timeout := s.WaitTimeout
	if c.Options != "" {
		if timeout, err = time.ParseDuration(c.Options); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		var got string
		if scope == "Line" {
			got, err = r.Pane.CursorLine()
		} else {
			got, err = r.Pane.Screen()
		}
		if err != nil {
			return err
		}
		if re.MatchString(got) {
			if r.Log != nil && scope != "Line" {
				fmt.Fprintf(r.Log, "%s\n%s\n%s\n", strings.Repeat("─", 20), got, strings.Repeat("─", 20))
			}
			return nil
		}
		if time.Now().After(deadline) {
			screen, _ := r.Pane.Screen()
			return &WaitError{Command: text, Line: n, Timeout: timeout, Screen: screen}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// modified turns Ctrl+…, Alt+… and Shift+… into a tmux key name.
func modified(c parser.Command) (string, error) {
	switch c.Type {
	case token.ALT:
		return "M-" + tmuxKeyName(c.Args), nil
	case token.SHIFT:
		switch c.Args {
		case "Tab":
			return "BTab", nil
		case "Enter":
			return "S-Enter", nil
		}
		return strings.ToUpper(c.Args), nil
	}
	parts := strings.Split(c.Args, " ")
	key := "C-"
	for _, m := range parts[:len(parts)-1] {
		switch m {
		case "Alt":
			key += "M-"
		case "Shift":
			key += "S-"
		default:
			return "", fmt.Errorf("unknown modifier %q", m)
		}
	}
	return key + strings.ToLower(tmuxKeyName(parts[len(parts)-1])), nil
}

func tmuxKeyName(k string) string {
	switch k {
	case "Enter", "Space", "Tab":
		return k
	case "Backspace":
		return "BSpace"
	}
	return k
}

// Env is the environment the tape's Env commands give its shell.
func Env(cmds []parser.Command) []string {
	var env []string
	for _, c := range cmds {
		if c.Type == token.ENV {
			env = append(env, c.Options+"="+c.Args)
		}
	}
	return env
}

func onPath(name, path string) bool {
	for _, dir := range filepath.SplitList(path) {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

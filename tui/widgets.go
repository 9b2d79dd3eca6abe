package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/tui/list"
	"github.com/usersync/usersync/tui/visible"
)

// newInput makes a text input with the app's styles and a steady cursor
// (no blinking: goldens and screen readers stay still).
func newInput(sh *shared, prompt, placeholder string) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.Placeholder = placeholder
	in.SetStyles(sh.st.input)
	return in
}

// pager is a scrollable block of pre-rendered lines (cards, summaries,
// reports, differences).
type pager struct {
	lines  []string
	offset int
	height int
}

func (p *pager) SetLines(lines []string) {
	p.lines = lines
	p.clamp()
}

func (p *pager) SetHeight(h int) {
	p.height = max(1, h)
	p.clamp()
}

func (p *pager) clamp() {
	p.offset = max(0, min(p.offset, len(p.lines)-p.height))
}

func (p *pager) Scroll(d int) {
	p.offset += d
	p.clamp()
}

// Navigate scrolls for a movement key; it reports whether msg was one.
func (p *pager) Navigate(msg tea.KeyPressMsg, k list.Keys) bool {
	switch {
	case key.Matches(msg, k.Up):
		p.Scroll(-1)
	case key.Matches(msg, k.Down):
		p.Scroll(1)
	case key.Matches(msg, k.PageUp):
		p.Scroll(-p.height)
	case key.Matches(msg, k.PageDown):
		p.Scroll(p.height)
	case key.Matches(msg, k.Home):
		p.offset = 0
	case key.Matches(msg, k.End):
		p.offset = len(p.lines)
		p.clamp()
	default:
		return false
	}
	return true
}

// Wheel scrolls for the mouse wheel.
func (p *pager) Wheel(m mouseMsg) {
	switch m.kind {
	case mouseWheelUp:
		p.Scroll(-3)
	case mouseWheelDown:
		p.Scroll(3)
	}
}

func (p *pager) View() string {
	end := min(len(p.lines), p.offset+p.height)
	out := strings.Join(p.lines[p.offset:end], "\n")
	if n := p.height - (end - p.offset); n > 0 {
		out += strings.Repeat("\n", n)
	}
	return out
}

// More says whether lines are hidden below or above, for a footer.
func (p *pager) More() string {
	var parts []string
	if p.offset > 0 {
		parts = append(parts, "↑ more")
	}
	if p.offset+p.height < len(p.lines) {
		parts = append(parts, fmt.Sprintf("↓ %d more lines", len(p.lines)-p.offset-p.height))
	}
	return strings.Join(parts, " · ")
}

// pad cuts s to w cells or pads it with spaces to w cells.
func pad(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-sw)
}

// cut cuts s to w cells.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		return ansi.Truncate(s, w, "…")
	}
	return s
}

// field renders "label  value" for a card. value is plain text, often a
// directory's or a store record's: it is shown with visible.String.
func field(sh *shared, label, value string, labelWidth int) string {
	return styledField(sh, label, visible.String(value), labelWidth)
}

// styledField is field for a value already rendered with the app's
// styles, which must hold no outside text that visible.String did not see.
func styledField(sh *shared, label, value string, labelWidth int) string {
	if value == "" {
		value = sh.st.dim.Render("—")
	}
	return "  " + sh.st.label.Render(pad(label, labelWidth)) + "  " + value
}

// yesNo renders a boolean for a card.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// plural renders "1 user" or "3 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// rowLine renders one list row: the cursor marker and the row's text, with
// the cursor style across the whole width when it is the current row.
func rowLine(sh *shared, current bool, text string, width int) string {
	marker := "  "
	if current {
		marker = glyphCursor + " "
	}
	if current {
		// One style across the row: inner styles would end the highlight.
		return sh.st.cursorRow.Render(pad(marker+ansi.Strip(text), width))
	}
	return pad(marker+text, width)
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

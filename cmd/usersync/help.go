package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// helpWidth is the width help is wrapped to: the terminal's (stdout's),
// else $COLUMNS, else 80; at most 100 and at least 40.
func helpWidth(w io.Writer) int {
	width := 80
	if f, ok := w.(term.File); ok && term.IsTerminal(f.Fd()) {
		if tw, _, err := term.GetSize(f.Fd()); err == nil && tw > 0 {
			width = tw
		}
	} else if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
		width = c
	}
	return min(max(width, 40), 100)
}

// help writes a command's help for a person: what it does, how to call it,
// an example, its subcommands and flags, each description wrapped at word
// boundaries to the terminal's width under its own column (never cut
// mid-word, never pushed off the edge by a long usage line).
func help(c *cobra.Command, _ []string) {
	out := c.OutOrStdout()
	w := colorprofile.NewWriter(out, os.Environ())
	width := helpWidth(out)
	heading := lipgloss.NewStyle().Bold(true)
	var b strings.Builder
	para := func(text string, indent int) {
		for i, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(wrapText(p, width-indent, strings.Repeat(" ", indent)))
			b.WriteString("\n")
		}
	}
	section := func(title string) { b.WriteString("\n" + heading.Render(title) + "\n") }

	para(cmpOr(c.Long, c.Short), 0)
	section("Usage")
	if c.Runnable() {
		b.WriteString("  " + c.UseLine() + "\n")
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("  " + c.CommandPath() + " COMMAND [flags]\n")
	}
	if c.Example != "" {
		section("Example")
		for _, l := range strings.Split(strings.Trim(c.Example, "\n"), "\n") {
			b.WriteString("  " + strings.TrimSpace(l) + "\n")
		}
	}
	if c.HasAvailableSubCommands() {
		section("Commands")
		var rows [][2]string
		for _, sc := range c.Commands() {
			if sc.IsAvailableCommand() {
				rows = append(rows, [2]string{sc.Name(), sc.Short})
			}
		}
		columns(&b, rows, width)
	}
	if fs := c.LocalFlags(); fs.HasAvailableFlags() {
		section("Flags")
		columns(&b, flagRows(fs), width)
	}
	if fs := c.InheritedFlags(); fs.HasAvailableFlags() {
		section("Global flags")
		columns(&b, flagRows(fs), width)
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n" + wrapText(fmt.Sprintf("Run '%s COMMAND --help' for more about a command.", c.CommandPath()), width, "") + "\n")
	}
	fmt.Fprint(w, b.String())
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// flagRows lists flags as "--name PLACEHOLDER" and their usage; the
// placeholder is the `word` quoted in the usage, else the value's type
// (none for booleans).
func flagRows(fs *pflag.FlagSet) [][2]string {
	var rows [][2]string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		key := "--" + f.Name
		if f.Shorthand != "" {
			key = "-" + f.Shorthand + ", " + key
		}
		if name != "" && f.Value.Type() != "bool" {
			key += " " + strings.ToUpper(name)
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
			usage += " (default " + d + ")"
		}
		rows = append(rows, [2]string{key, usage})
	})
	return rows
}

// columns writes two columns: the keys, then each description wrapped
// under its own column. A key too wide for a readable description column
// gets its description on the next line.
func columns(b *strings.Builder, rows [][2]string, width int) {
	keyw := 0
	for _, r := range rows {
		if w := lipgloss.Width(r[0]); w <= 24 {
			keyw = max(keyw, w)
		}
	}
	indent := 2 + keyw + 2
	for _, r := range rows {
		key := "  " + r[0]
		desc := wrapText(r[1], width-indent, strings.Repeat(" ", indent))
		if lipgloss.Width(r[0]) > keyw {
			b.WriteString(key + "\n" + desc + "\n")
			continue
		}
		b.WriteString(key + strings.Repeat(" ", indent-lipgloss.Width(key)) + strings.TrimLeft(desc, " ") + "\n")
	}
}

// wrapText wraps s at word boundaries to lines of at most width cells,
// each prefixed by indent; a word longer than a line stands alone.
func wrapText(s string, width int, indent string) string {
	width = max(width, 20)
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case lipgloss.Width(line)+1+lipgloss.Width(word) <= width:
			line += " " + word
		default:
			lines = append(lines, indent+line)
			line = word
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, indent+line)
	}
	return strings.Join(lines, "\n")
}

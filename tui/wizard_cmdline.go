package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/tui/visible"
)

// commandLines lays out the command `usersync args…` (each argument
// quoted for a shell, as importer's CommandLine quotes it) in lines of at
// most width cells. Lines break only between arguments, and never between
// an option and its value (`--roles Viewer` stays on one line), so the
// text read across the lines is the command word for word. Continuation
// lines are indented. An option and its value too wide for a line
// together go on two; an argument wider than a whole line is the one
// thing broken inside (y copies the command as one line anyway).
func commandLines(args []string, width int) []string {
	const indent = "    "
	q := func(a string) string { return visible.String(importer.ShellQuote(a)) }
	// Units are kept on one line: the command with its subcommand, an
	// option with its value, a lone argument.
	var units [][]string
	for i := 0; i < len(args); i++ {
		u := []string{q(args[i])}
		switch {
		case i == 0 && len(args) > 1 && !strings.HasPrefix(args[1], "-"):
			u = []string{"usersync " + u[0] + " " + q(args[1])}
			i++
		case i == 0:
			u[0] = "usersync " + u[0]
		case strings.HasPrefix(args[i], "--") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--"):
			u = append(u, q(args[i+1]))
			i++
		}
		units = append(units, u)
	}
	var lines []string
	line := ""
	place := func(u string) {
		switch {
		case line == "":
			line = u
		case ansi.StringWidth(line)+1+ansi.StringWidth(u) <= width:
			line += " " + u
		default:
			lines = append(lines, line)
			line = indent + u
		}
		if ansi.StringWidth(line) > width {
			// One argument wider than a line: the only break inside one.
			parts := wrapHard(line, width)
			lines = append(lines, parts[:len(parts)-1]...)
			line = parts[len(parts)-1]
		}
	}
	for _, u := range units {
		joined := strings.Join(u, " ")
		if len(u) > 1 && len(indent)+ansi.StringWidth(joined) > width {
			// An option and a value too wide for a line together.
			for _, a := range u {
				place(a)
			}
			continue
		}
		place(joined)
	}
	return append(lines, line)
}

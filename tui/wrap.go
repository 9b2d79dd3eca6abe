package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// wrapHard breaks s into lines of at most w cells, without losing a
// character (a command line must stay copyable).
func wrapHard(s string, w int) []string {
	if w < 1 {
		return []string{s}
	}
	var out []string
	r := []rune(s)
	for len(r) > w {
		cutAt := w
		// Prefer breaking after a space.
		for i := w; i > w/2; i-- {
			if r[i-1] == ' ' {
				cutAt = i
				break
			}
		}
		out = append(out, string(r[:cutAt]))
		r = r[cutAt:]
	}
	return append(out, string(r))
}

// wrapWords breaks s into lines of at most w cells at spaces (a word
// longer than w is broken too), for sentences shown to a person.
func wrapWords(s string, w int) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= w:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
		for ansi.StringWidth(line) > w {
			out = append(out, ansi.Truncate(line, w, ""))
			line = ansi.TruncateLeft(line, w, "")
		}
	}
	if line != "" || len(out) == 0 {
		out = append(out, line)
	}
	return out
}

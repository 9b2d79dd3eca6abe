// Package visible makes text from outside the program safe to show on a
// terminal: names, emails, DNs and reasons that came from a directory or a
// store record, and error messages that quote them.
//
// String replaces every character a terminal would act on instead of
// showing — C0 controls, DEL, C1 controls, bidirectional controls, line and
// paragraph separators — or would not show at all (zero-width spaces, the
// soft hyphen: a name that looks like another), and every byte that is not valid UTF-8 by a
// visible spelling: "␊" for a line feed, "␍" for a carriage return, "␉" for
// a tab, "\x1b" for ESC and other C0 controls and DEL, "\u009b" for C1
// controls, "\u202e" for a bidirectional control, "\xff" for an invalid
// byte. A name then takes exactly the cells it appears to take: a "\n"
// cannot add a row to a table, a "\r" cannot overwrite one, an escape
// sequence cannot clear the screen and a right-to-left override cannot
// turn "bidi\u202egnp.exe" into "bidiexe.png" on screen.
//
// The package is for text being rendered for a person. It is not for JSON
// (the encoder escapes what it must, and the exact value is kept), not for
// the program's own styled output (it would show the styles' escape
// sequences), and it is not a reversible encoding.
package visible

import (
	"strings"
	"unicode/utf8"
)

// String returns s with every control character, bidirectional control and
// invalid UTF-8 byte spelled visibly (see the package documentation). Clean
// text, the common case, is returned as it is, without allocating.
func String(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				writeASCII(&b, c)
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			writeHex(&b, `\x`, uint32(c), 2)
		case unsafeRune(r):
			writeHex(&b, `\u`, uint32(r), 4)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Safe reports whether s would be shown as it is: String(s) == s.
func Safe(s string) bool { return firstUnsafe(s) < 0 }

// firstUnsafe is the byte offset of the first character String would
// change, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || unsafeRune(r) {
			return i
		}
		i += n
	}
	return -1
}

// unsafeRune reports whether r, a non-ASCII rune, is one a terminal acts on
// or one that reorders the text around it.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls (CSI is 0x9b)
		return true
	case r == 0x061c, // ARABIC LETTER MARK
		r == 0x200e, r == 0x200f, // LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
		r >= 0x202a && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069, // LRI, RLI, FSI, PDI
		r == 0x2028, r == 0x2029:   // LINE SEPARATOR, PARAGRAPH SEPARATOR
		return true
	case r == 0x00ad, // SOFT HYPHEN
		r == 0x180e,              // MONGOLIAN VOWEL SEPARATOR
		r == 0x200b, r == 0x200c, // ZERO WIDTH SPACE, ZERO WIDTH NON-JOINER
		r >= 0x2060 && r <= 0x2064, // WORD JOINER, invisible operators
		r == 0xfeff:                // ZERO WIDTH NO-BREAK SPACE
		// Invisible: "mei.chen​" would look like "mei.chen". The
		// zero width joiner is left alone: it joins emoji in names.
		return true
	}
	return false
}

// writeASCII spells an ASCII control character: the control pictures for
// the three that shape a layout, \xNN for the others.
func writeASCII(b *strings.Builder, c byte) {
	switch c {
	case '\n':
		b.WriteString("␊")
	case '\r':
		b.WriteString("␍")
	case '\t':
		b.WriteString("␉")
	default:
		writeHex(b, `\x`, uint32(c), 2)
	}
}

// writeHex writes prefix, then v as that many lower-case hex digits.
func writeHex(b *strings.Builder, prefix string, v uint32, digits int) {
	const hex = "0123456789abcdef"
	b.WriteString(prefix)
	for shift := (digits - 1) * 4; shift >= 0; shift -= 4 {
		b.WriteByte(hex[(v>>uint(shift))&0xf])
	}
}

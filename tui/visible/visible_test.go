package visible

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString_SpellsControlsVisibly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"clean ASCII", "aandrei", "aandrei"},
		{"clean Unicode", "José Ñúñez 李 ＡＢ", "José Ñúñez 李 ＡＢ"},
		{"empty", "", ""},
		{"ESC", "a\x1bb", `a\x1bb`},
		{"CSI clear screen", "\x1b[2Jroot", `\x1b[2Jroot`},
		{"OSC title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"carriage return", "evil\rroot", "evil␍root"},
		{"line feed", "Mallory\nroot  Root  internal", "Mallory␊root  Root  internal"},
		{"tab", "a\tb", "a␉b"},
		{"NUL and BEL", "a\x00\x07", `a\x00\x07`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 NEL", "a\u0085b", `a\u0085b`},
		{"C1 CSI", "\u009b2Jx", `\u009b2Jx`},
		{"RLO", "bidi\u202egnp.exe", `bidi\u202egnp.exe`},
		{"LRE PDF", "\u202aa\u202c", `\u202aa\u202c`},
		{"isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"LRM RLM", "a\u200eb\u200f", `a\u200eb\u200f`},
		{"zero width space", "mei.chen\u200b", `mei.chen\u200b`},
		{"soft hyphen, BOM", "a\u00adb\ufeff", `a\u00adb\ufeff`},
		{"emoji joiner kept", "dev \U0001F469\u200d\U0001F4BB", "dev \U0001F469\u200d\U0001F4BB"},
		{"Arabic letter mark", "a\u061cb", `a\u061cb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"invalid UTF-8 CSI byte", "a\x9b2J", `a\x9b2J`},
		{"invalid UTF-8", "\xff\xfe", `\xff\xfe`},
		{"truncated rune", "ab\xe2\x80", `ab\xe2\x80`},
		{"unsafe after clean Unicode", "é\x1b", `é\x1b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if Safe(tt.in) != (tt.in == tt.want) {
				t.Errorf("Safe(%q) = %v, want %v", tt.in, Safe(tt.in), tt.in == tt.want)
			}
			if !Safe(got) {
				t.Errorf("String(%q) = %q is not safe itself", tt.in, got)
			}
		})
	}
}

func TestString_CleanTextDoesNotAllocate(t *testing.T) {
	for _, s := range []string{"aandrei", "Anders Berg <anders@example.org>", "José Ñúñez 李", "cn=Field Engineers,ou=groups,dc=example,dc=org"} {
		var out string
		if n := testing.AllocsPerRun(100, func() { out = String(s) }); n != 0 {
			t.Errorf("String(%q) allocates %v times, want 0", s, n)
		}
		if out != s {
			t.Errorf("String(%q) = %q", s, out)
		}
	}
}

// TestString_NothingATerminalActsOnSurvives checks every rune and every
// byte: what String returns holds no control character, no DEL, no C1
// control, no bidirectional control and no invalid UTF-8.
func TestString_NothingATerminalActsOnSurvives(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		b.WriteRune(r)
	}
	for c := 0x80; c < 0x100; c++ {
		b.WriteByte(byte(c)) // lone continuation and lead bytes
	}
	out := String(b.String())
	if !utf8.ValidString(out) {
		t.Fatal("output is not valid UTF-8")
	}
	for i, r := range out {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unsafeRune(r) {
			t.Fatalf("output holds %U at byte %d", r, i)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"aandrei", "\x1b[2J", "a\rb\nc", "bidi\u202egnp.exe", "\xff", "\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !Safe(out) {
			t.Fatalf("String(%q) = %q is not safe", s, out)
		}
		if Safe(s) != (out == s) {
			t.Fatalf("Safe(%q) = %v but String changed it to %q", s, Safe(s), out)
		}
		if String(out) != out {
			t.Fatalf("String is not idempotent on %q", s)
		}
	})
}

func BenchmarkString_Clean(b *testing.B) {
	s := "Anders Berg <anders@example.org>"
	for b.Loop() {
		_ = String(s)
	}
}

func BenchmarkString_Hostile(b *testing.B) {
	s := "Mallory\x1b[2J\nroot  Root  internal\u202e"
	for b.Loop() {
		_ = String(s)
	}
}

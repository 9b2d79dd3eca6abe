package store

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/secure/precis"
)

func TestFold_CaseAndWidthVariantsCollide(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b string }{
		{"AAndrei", "aandrei"},
		{"ＡＡｎｄｒｅｉ", "aandrei"}, // full-width
		{"Straße", "STRASSE"},
		{"ﬁona", "FIONA"},      // ligature
		{"\u212Aim", "kim"},    // Kelvin sign
		{"Åsa", "A\u030asa"},   // composed and decomposed
		{"ǅenan", "dženan"},    // title case digraph
		{"ΣΊΣΥΦΟΣ", "σίσυφος"}, // final sigma
		{"ᎠᎡᎢ", "ꭰꭱꭲ"},         // Cherokee folds to its capitals
		{"ᏴᏵ", "ᏼᏽ"},
	}
	for _, tt := range tests {
		if fa, fb := Fold(tt.a), Fold(tt.b); fa != fb {
			t.Errorf("Fold(%q) = %q, Fold(%q) = %q; want equal", tt.a, fa, tt.b, fb)
		}
	}
}

func TestFold_DifferentNamesStayDifferent(t *testing.T) {
	t.Parallel()
	for _, p := range [][2]string{{"anna", "anne"}, {"a.b", "ab"}, {"bob", "bob2"}} {
		if Fold(p[0]) == Fold(p[1]) {
			t.Errorf("Fold(%q) == Fold(%q)", p[0], p[1])
		}
	}
}

func TestCheckName_RefusesWhatCannotBeAName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string // part of the message; "" for accepted
	}{
		{"aandrei", ""},
		{"Anders Berg", ""},
		{"émile", ""},
		{"", "empty"},
		{" bob", "leading or trailing space"},
		{"bob ", "leading or trailing space"},
		{"bob\u00a0", "leading or trailing space"},
		{"bo\nb", "control character"},
		{"bo\x00b", "control character"},
		{"bo\x7fb", "control character"},
		{"\xff\xfe", "not valid UTF-8"},
		{strings.Repeat("a", 2000), "longer than"},
	}
	for _, tt := range tests {
		err := checkName("username", tt.name)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("checkName(%q) = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("checkName(%q) = %v, want ErrInvalid saying %q", tt.name, err, tt.want)
		}
	}
}

// simpleFoldVariant replaces every rune by the next rune of its Unicode
// simple case-folding orbit (K → k → K(Kelvin) → K): another way of
// writing the same name, ignoring case.
func simpleFoldVariant(s string) string {
	return strings.Map(unicode.SimpleFold, s)
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"AAndrei", "aandrei", "Straße", "ＡＢＣ", "ǅ", "ﬃ", "İstanbul", "ı", "Σ", "\u212A", "e\u0301", "", "\xff", "Ꭰꭰ", "ᏸ", "bidi\u202egnp.exe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := Fold(s)
		if b := Fold(a); a != b {
			t.Fatalf("Fold is not idempotent: Fold(%q) = %q, Fold(that) = %q", s, a, b)
		}
		var swapped strings.Builder
		for _, r := range s {
			switch {
			case 'a' <= r && r <= 'z':
				r -= 'a' - 'A'
			case 'A' <= r && r <= 'Z':
				r += 'a' - 'A'
			}
			swapped.WriteRune(r)
		}
		if !isValidUTF8(s) {
			return // invalid bytes are replaced; variants need not agree
		}
		if b := Fold(swapped.String()); a != b {
			t.Fatalf("ASCII case variants fold apart: Fold(%q) = %q, Fold(%q) = %q", s, a, swapped.String(), b)
		}
		if v := simpleFoldVariant(s); Fold(v) != a {
			t.Fatalf("case variants fold apart: Fold(%q) = %q, Fold(%q) = %q", s, a, v, Fold(v))
		}
		_ = checkName("username", s) // never panics
		// Names the PRECIS profile deems one fold alike (see Fold).
		if usernameProblem(s) == "" {
			p, err := precis.UsernameCaseMapped.String(s)
			if err != nil {
				t.Fatalf("usernameProblem allows %q but the profile refuses it: %v", s, err)
			}
			if Fold(p) != a {
				t.Fatalf("PRECIS-equal names fold apart: Fold(%q) = %q, Fold(%q) = %q", s, a, p, Fold(p))
			}
		}
	})
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\ufffd") == s }

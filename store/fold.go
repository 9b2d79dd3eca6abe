package store

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// maxNameBytes bounds names, emails and external IDs: they are bbolt keys
// (at most 32 KiB) and nobody's username is longer.
const maxNameBytes = 1024

// folders pools case folders: a cases.Caser keeps state and must not be
// shared between goroutines.
var folders = sync.Pool{New: func() any { c := cases.Fold(); return &c }}

// Fold is the form in which usernames, group names, role names and email
// addresses are compared: Unicode NFKC, then full case folding, then NFKC
// again, repeated until nothing changes. "AAndrei", "aandrei" and
// "ＡＡｎｄｒｅｉ" (full-width) all fold to "aandrei".
//
// Usernames and PRECIS. A username taken from a directory or given to
// AddUser must also pass the PRECIS UsernameCaseMapped profile (RFC 8265,
// see usernameProblem), which refuses control, bidirectional, compatibility
// and unassigned characters. The store keeps Fold as its one key for
// usernames, rather than a second, PRECIS-only fold:
//
//   - Fold is coarser than the profile's comparison: names that the profile
//     maps to the same string (width, case) always fold alike, so the check
//     can never let in two accounts the profile deems one. Fold also joins a
//     few the profile keeps apart ("Straße" and "STRASSE", final and medial
//     sigma): they collide, which errs on the side of refusing look-alikes.
//     TestFold_PrecisEqualNamesFoldEqual and FuzzFold hold this.
//   - Usernames stored before the check, or internal users whose names it
//     would refuse, keep their index keys: they are still found by Fold, can
//     be shown, enabled, disabled and deleted, and still block a directory
//     user of the same folded name. A directory entry whose name fails the
//     profile is a failed entry before any lookup, so it is never stored,
//     renamed to, linked by email or merged with such a record.
//   - Group and role names are not usernames ("Field Engineers" has a
//     space): they stay on nameProblem's rules.
//
// Cherokee folds to its capital letters, as Unicode's CaseFolding.txt says;
// golang.org/x/text/cases folds the capitals to small letters as well
// (golang/go#46101), which alone would swap the two cases back and forth
// and keep "ᎠᎡᎢ" and "ꭰꭱꭲ" apart.
func Fold(s string) string {
	if f, ok := foldASCII(s); ok {
		return f
	}
	c := folders.Get().(*cases.Caser)
	defer folders.Put(c)
	for range 8 {
		c.Reset()
		t := norm.NFKC.String(cherokeeCapitals(c.String(norm.NFKC.String(s))))
		if t == s {
			break
		}
		s = t
	}
	return s
}

// cherokeeCapitals maps Cherokee small letters (U+AB70–U+ABBF,
// U+13F8–U+13FD) to their capitals (U+13A0–U+13EF, U+13F0–U+13F5), the
// case folding Unicode gives them.
func cherokeeCapitals(s string) string {
	small := func(r rune) bool { return (r >= 0xab70 && r <= 0xabbf) || (r >= 0x13f8 && r <= 0x13fd) }
	if strings.IndexFunc(s, small) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xab70 && r <= 0xabbf:
			return r - 0xab70 + 0x13a0
		case r >= 0x13f8 && r <= 0x13fd:
			return r - 8
		}
		return r
	}, s)
}

// foldASCII folds s when it is plain ASCII, where NFKC changes nothing and
// case folding is lower-casing: the common case, without allocation when s
// is already lower case.
func foldASCII(s string) (string, bool) {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return "", false
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s, true
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), true
}

// nameProblem says why name cannot be a username, group name or role name
// (what says which), or "". Empty names, names with control characters or
// invalid UTF-8, and names with leading or trailing space are refused.
func nameProblem(what, name string) string {
	if name == "" {
		return "empty " + what
	}
	if len(name) > maxNameBytes {
		return fmt.Sprintf("%s is longer than %d bytes", what, maxNameBytes)
	}
	if !utf8.ValidString(name) {
		return fmt.Sprintf("%s %q is not valid UTF-8", what, name)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Sprintf("%s %q contains a control character", what, name)
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return fmt.Sprintf("%s %q has leading or trailing space", what, name)
	}
	if Fold(name) == "" {
		return fmt.Sprintf("%s %q is empty once normalized", what, name)
	}
	return ""
}

// usernameProblem says why name cannot be a username, or "": what
// nameProblem refuses, and what the PRECIS UsernameCaseMapped profile (RFC
// 8265) refuses — spaces, control and bidirectional characters, zero-width
// joiners, compatibility forms such as ligatures — naming the first
// offending character: `username "bidi\u202egnp.exe" is not allowed:
// U+202E RIGHT-TO-LEFT OVERRIDE at position 5`.
func usernameProblem(name string) string {
	const what = "username"
	if printableASCII(name) {
		// The profile allows U+0021–U+007E in any order.
		return nameProblem(what, name)
	}
	p := nameProblem(what, name)
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) {
		return p
	}
	if _, err := precis.UsernameCaseMapped.String(name); err != nil {
		if p != "" {
			return p + ": " + precisOffender(name)
		}
		return fmt.Sprintf("%s %q is not allowed: %s", what, name, precisOffender(name))
	}
	return p
}

// printableASCII reports whether s is made of U+0021–U+007E only, which
// the PRECIS IdentifierClass allows whatever their order.
func printableASCII(s string) bool {
	if s == "" || len(s) > maxNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// precisOffender names the character of name, which fails the PRECIS
// UsernameCaseMapped profile, that makes it fail: the first that fails
// on its own and with what precedes it, else the first with which the
// name so far fails (a character allowed only in some contexts, or
// right-to-left text mixed with left-to-right). Checking prefixes costs
// up to the name's length each: after precisPrefixChecks of them a
// long, hostile name gets the profile's name instead of a character's.
func precisOffender(name string) string {
	p := precis.UsernameCaseMapped
	fails := func(s string) bool { _, err := p.String(s); return err != nil }
	budget := precisPrefixChecks
	prefixFails := func(s string) bool { budget--; return fails(s) }
	pos := 0
	for i, r := range name {
		pos++
		if budget > 0 && fails(string(r)) && prefixFails(name[:i+utf8.RuneLen(r)]) {
			return fmt.Sprintf("%s at position %d", describeRune(r), pos)
		}
	}
	pos = 0
	for i, r := range name {
		pos++
		if budget <= 0 {
			break
		}
		if prefixFails(name[:i+utf8.RuneLen(r)]) {
			return fmt.Sprintf("%s at position %d is not allowed there", describeRune(r), pos)
		}
	}
	return "it does not pass the PRECIS UsernameCaseMapped profile (RFC 8265)"
}

// precisPrefixChecks bounds the prefixes precisOffender checks.
const precisPrefixChecks = 64

// controlNames name the control characters Unicode calls "<control>".
var controlNames = map[rune]string{
	0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x09: "CHARACTER TABULATION",
	0x0a: "LINE FEED", 0x0b: "LINE TABULATION", 0x0c: "FORM FEED",
	0x0d: "CARRIAGE RETURN", 0x1b: "ESCAPE", 0x7f: "DELETE",
	0x85: "NEXT LINE", 0x9b: "CONTROL SEQUENCE INTRODUCER",
}

// describeRune spells r for a person: "U+202E RIGHT-TO-LEFT OVERRIDE".
func describeRune(r rune) string {
	name := runenames.Name(r)
	switch {
	case name == "<control>":
		name = controlNames[r]
		if name == "" {
			name = "(a control character)"
		}
	case name == "":
		name = "(an unassigned character)"
	}
	return fmt.Sprintf("%U %s", r, name)
}

// checkUsername is usernameProblem as an error wrapping ErrInvalid.
func checkUsername(name string) error {
	if p := usernameProblem(name); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, p)
	}
	return nil
}

// checkName is nameProblem as an error wrapping ErrInvalid.
func checkName(what, name string) error {
	if p := nameProblem(what, name); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, p)
	}
	return nil
}

// valueProblem says why an optional value (email, DN, display name,
// external ID, source, scope) cannot be stored, or "": it must be valid
// UTF-8 without control characters and not overly long (DNs and display
// names may be longer than keys).
func valueProblem(what, v string) string {
	limit := maxNameBytes
	if what == "DN" || what == "display name" {
		limit *= 4
	}
	if len(v) > limit {
		return fmt.Sprintf("%s is too long (%d bytes)", what, len(v))
	}
	if !utf8.ValidString(v) {
		return fmt.Sprintf("%s %q is not valid UTF-8", what, v)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return fmt.Sprintf("%s %q contains a control character", what, v)
	}
	return ""
}

// checkValue is valueProblem as an error wrapping ErrInvalid.
func checkValue(what, v string) error {
	if p := valueProblem(what, v); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, p)
	}
	return nil
}

// foldEmail is the index form of an email address: trimmed and folded.
func foldEmail(email string) string { return Fold(strings.TrimSpace(email)) }

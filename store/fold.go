package store

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
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
func Fold(s string) string {
	if f, ok := foldASCII(s); ok {
		return f
	}
	c := folders.Get().(*cases.Caser)
	defer folders.Put(c)
	for range 8 {
		c.Reset()
		t := norm.NFKC.String(c.String(norm.NFKC.String(s)))
		if t == s {
			break
		}
		s = t
	}
	return s
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

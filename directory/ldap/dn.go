package ldap

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

// DNs are compared parsed, never as strings: slapd returns an entry's DN
// with hex escapes (cn=Perez\2C Yusuf) while member values keep the
// spelling they were written with (cn=Perez\, Yusuf), and case differs
// between servers and clients.

// sameDN reports whether a and b name the same entry (ldap.ParseDN +
// EqualFold); unparsable DNs are never the same.
func sameDN(a, b string) bool {
	da, err := goldap.ParseDN(a)
	if err != nil {
		return false
	}
	db, err := goldap.ParseDN(b)
	if err != nil {
		return false
	}
	return da.EqualFold(db)
}

// dnKey is a map key for a DN: equal for DNs that EqualFold treats as
// equal (attribute types and values case-folded, RDN parts sorted,
// escapes resolved). ok is false for a DN that does not parse.
func dnKey(dn string) (string, bool) {
	p, err := goldap.ParseDN(dn)
	if err != nil {
		return "", false
	}
	return parsedKey(p), true
}

func parsedKey(p *goldap.DN) string {
	var b strings.Builder
	for i, rdn := range p.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		parts := make([]string, len(rdn.Attributes))
		for j, a := range rdn.Attributes {
			parts[j] = keyEscape(fold(a.Type)) + "=" + keyEscape(fold(a.Value))
		}
		sort.Strings(parts)
		for j, s := range parts {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// fold maps s so that fold(x) == fold(y) exactly when strings.EqualFold(x, y)
// (simple case folding to the smallest rune of each fold orbit).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || (s[i] >= 'A' && s[i] <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(r)
	}
	return b.String()
}

func keyEscape(s string) string {
	if !strings.ContainsAny(s, `\,+=`) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`, `=`, `\=`)
	return r.Replace(s)
}

// under reports whether dn is base or below it.
func under(dn, base *goldap.DN) bool {
	return base.EqualFold(dn) || base.AncestorOfFold(dn)
}

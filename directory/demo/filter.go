package demo

import (
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// tri is the value of a filter on an entry (RFC 4511 4.5.1.7): TRUE,
// FALSE or Undefined. Undefined (an unknown matching rule) is not TRUE,
// and its negation is Undefined too.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// Matching rules the server knows beyond plain equality.
const (
	ruleInChain   = "1.2.840.113556.1.4.1941" // LDAP_MATCHING_RULE_IN_CHAIN
	ruleBitAnd    = "1.2.840.113556.1.4.803"
	ruleBitOr     = "1.2.840.113556.1.4.804"
	ruleCaseExact = "2.5.13.5"
)

// equalityRules are matching rules evaluated as the server's equality
// (case-insensitive, DNs as DNs); exactRules compare values as written.
var (
	equalityRules = map[string]bool{
		"": true, "2.5.13.2": true, "caseignorematch": true, "2.5.13.1": true,
		"distinguishednamematch": true, "1.3.6.1.4.1.1466.109.114.2": true,
		"caseignoreia5match": true, "1.3.6.1.1.16.2": true, "uuidmatch": true,
		"2.5.13.14": true, "integermatch": true, "2.5.13.0": true, "objectidentifiermatch": true,
	}
	exactRules = map[string]bool{
		ruleCaseExact: true, "caseexactmatch": true, "1.3.6.1.4.1.1466.109.114.1": true,
		"caseexactia5match": true, "2.5.13.17": true, "octetstringmatch": true,
	}
)

// filter is a compiled search filter.
type filter struct {
	p *ber.Packet
}

// compileFilter parses a filter in its string form (as gldap hands it
// over, values escaped).
func compileFilter(s string) (*filter, error) {
	p, err := goldap.CompileFilter(s)
	if err != nil {
		return nil, err
	}
	return &filter{p: p}, nil
}

// matches reports whether n matches the filter (Undefined is no match).
func (t *tree) matches(n *node, f *filter) bool {
	return t.eval(n, f.p) == triTrue
}

func str(p *ber.Packet) string { return ber.DecodeString(p.Data.Bytes()) }

func (t *tree) eval(n *node, p *ber.Packet) tri {
	switch p.Tag {
	case goldap.FilterAnd:
		out := triTrue
		for _, c := range p.Children {
			switch t.eval(n, c) {
			case triFalse:
				return triFalse
			case triUndefined:
				out = triUndefined
			}
		}
		return out
	case goldap.FilterOr:
		out := triFalse
		for _, c := range p.Children {
			switch t.eval(n, c) {
			case triTrue:
				return triTrue
			case triUndefined:
				out = triUndefined
			}
		}
		return out
	case goldap.FilterNot:
		if len(p.Children) != 1 {
			return triUndefined
		}
		switch t.eval(n, p.Children[0]) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case goldap.FilterEqualityMatch, goldap.FilterApproxMatch:
		if len(p.Children) != 2 {
			return triUndefined
		}
		return triOf(equal(n.get(str(p.Children[0])), str(p.Children[1])))
	case goldap.FilterGreaterOrEqual, goldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return triUndefined
		}
		v := n.get(str(p.Children[0]))
		if v == nil {
			return triFalse
		}
		a := str(p.Children[1])
		for _, s := range v.vals {
			c := compare(s, a)
			if (p.Tag == goldap.FilterGreaterOrEqual && c >= 0) || (p.Tag == goldap.FilterLessOrEqual && c <= 0) {
				return triTrue
			}
		}
		return triFalse
	case goldap.FilterPresent:
		v := n.get(str(p))
		return triOf(v != nil && len(v.vals) > 0)
	case goldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return triUndefined
		}
		v := n.get(str(p.Children[0]))
		if v == nil {
			return triFalse
		}
		for _, s := range v.vals {
			if substrings(fold(s), p.Children[1].Children) {
				return triTrue
			}
		}
		return triFalse
	case goldap.FilterExtensibleMatch:
		return t.extensible(n, p)
	}
	return triUndefined
}

// equal reports whether any value of v equals assertion a: DN-valued
// attributes as DNs, the others case-insensitively.
func equal(v *values, a string) bool {
	if v == nil {
		return false
	}
	want := fold(a)
	if v.dn {
		want = dnString(a)
	}
	for _, f := range v.folded {
		if f == want {
			return true
		}
	}
	return false
}

// compare orders two values: as integers when both are, else as folded
// strings (which orders GeneralizedTime values correctly too).
func compare(v, a string) int {
	x, err1 := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	y, err2 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err1 == nil && err2 == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(fold(v), fold(a))
}

// substrings matches a folded value against initial, any and final parts,
// in order and without overlap.
func substrings(v string, parts []*ber.Packet) bool {
	for i, part := range parts {
		s := fold(str(part))
		switch part.Tag {
		case goldap.FilterSubstringsInitial:
			if i != 0 || !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case goldap.FilterSubstringsAny:
			j := strings.Index(v, s)
			if j < 0 {
				return false
			}
			v = v[j+len(s):]
		case goldap.FilterSubstringsFinal:
			if i != len(parts)-1 || !strings.HasSuffix(v, s) {
				return false
			}
			v = ""
		default:
			return false
		}
	}
	return true
}

// extensible evaluates (attr:rule:=value): the equality rules, exact
// rules, Active Directory's in-chain rule on memberOf and member, and the
// bitwise AND/OR rules. An unknown rule is Undefined. (The :dn: form never
// gets here: gldap cannot decode it and ends the connection.)
func (t *tree) extensible(n *node, p *ber.Packet) tri {
	var attr, rule, value string
	for _, c := range p.Children {
		switch c.Tag {
		case goldap.MatchingRuleAssertionMatchingRule:
			rule = strings.ToLower(str(c))
		case goldap.MatchingRuleAssertionType:
			attr = str(c)
		case goldap.MatchingRuleAssertionMatchValue:
			value = str(c)
		}
	}
	var test func(v *values) bool
	switch {
	case equalityRules[rule]:
		test = func(v *values) bool { return equal(v, value) }
	case exactRules[rule]:
		test = func(v *values) bool {
			for _, s := range v.vals {
				if s == value {
					return true
				}
			}
			return false
		}
	case rule == ruleInChain && (strings.EqualFold(attr, "memberOf") || strings.EqualFold(attr, "member") || strings.EqualFold(attr, "uniqueMember")):
		return triOf(t.inChain(n, attr, dnString(value)))
	case rule == ruleBitAnd || rule == ruleBitOr:
		want, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return triUndefined
		}
		test = func(v *values) bool {
			for _, s := range v.vals {
				x, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					continue
				}
				if (rule == ruleBitAnd && x&want == want) || (rule == ruleBitOr && x&want != 0) {
					return true
				}
			}
			return false
		}
	default:
		return triUndefined
	}
	if attr != "" {
		if v := n.get(attr); v != nil && test(v) {
			return triTrue
		}
	} else {
		for _, v := range n.attrs {
			if test(v) {
				return triTrue
			}
		}
	}
	return triFalse
}

// inChain follows memberOf (or member) links from n transitively and
// reports whether it reaches the entry with key target. Each entry is
// visited once, so cycles end.
func (t *tree) inChain(n *node, attr, target string) bool {
	seen := map[string]bool{n.key: true}
	queue := []*node{n}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		v := cur.get(attr)
		if v == nil {
			continue
		}
		for _, k := range v.folded {
			if k == target {
				return true
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			if next := t.byKey[k]; next != nil {
				queue = append(queue, next)
			}
		}
	}
	return false
}

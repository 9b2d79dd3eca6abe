package graphtest

import (
	"fmt"
	"strings"
	"unicode"
)

// props is one directory object's properties by lower-cased name; values
// are string, bool or nil.
type props map[string]any

// filterExpr is a parsed OData $filter.
type filterExpr func(p props) bool

// parseFilter parses the subset of OData $filter that Graph accepts on
// users and groups without advanced queries: startswith/endswith(prop,
// 'text'), prop eq|ne 'text'|true|false|null, and, or, not, parentheses.
// String comparisons are case-insensitive, as Graph's are for these
// properties.
func parseFilter(s string) (filterExpr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return e, nil
}

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string
}

func lex(s string) ([]token, error) {
	var out []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			out = append(out, token{tLParen, "("})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")"})
			i++
		case c == ',':
			out = append(out, token{tComma, ","})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(rs) {
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						b.WriteRune('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteRune(rs[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string literal")
			}
			out = append(out, token{tString, b.String()})
		case unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '/' || c == '.' || c == '-':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '/' || rs[j] == '.' || rs[j] == '-') {
				j++
			}
			out = append(out, token{tIdent, string(rs[i:j])})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == tIdent && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *parser) expect(k tokKind, what string) (token, error) {
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != k {
		return token{}, fmt.Errorf("expected %s", what)
	}
	t := p.toks[p.pos]
	p.pos++
	return t, nil
}

func (p *parser) or() (filterExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x props) bool { return a(x) || b(x) }
	}
	return l, nil
}

func (p *parser) and() (filterExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x props) bool { return a(x) && b(x) }
	}
	return l, nil
}

func (p *parser) unary() (filterExpr, error) {
	if p.peekWord("not") {
		p.pos++
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(x props) bool { return !e(x) }, nil
	}
	return p.primary()
}

func (p *parser) primary() (filterExpr, error) {
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("unexpected end of filter")
	}
	t := p.toks[p.pos]
	if t.kind == tLParen {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		return e, nil
	}
	if t.kind != tIdent {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	p.pos++
	name := strings.ToLower(t.text)
	if name == "startswith" || name == "endswith" {
		if _, err := p.expect(tLParen, "'('"); err != nil {
			return nil, err
		}
		prop, err := p.expect(tIdent, "a property name")
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tComma, "','"); err != nil {
			return nil, err
		}
		val, err := p.expect(tString, "a string")
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		key, v := strings.ToLower(prop.text), strings.ToLower(val.text)
		if name == "startswith" {
			return func(x props) bool {
				s, ok := x[key].(string)
				return ok && strings.HasPrefix(strings.ToLower(s), v)
			}, nil
		}
		return func(x props) bool {
			s, ok := x[key].(string)
			return ok && strings.HasSuffix(strings.ToLower(s), v)
		}, nil
	}
	// prop eq|ne literal
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != tIdent {
		return nil, fmt.Errorf("expected an operator after %s", t.text)
	}
	op := strings.ToLower(p.toks[p.pos].text)
	if op != "eq" && op != "ne" {
		return nil, fmt.Errorf("unsupported operator %q", op)
	}
	p.pos++
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("expected a value")
	}
	lit := p.toks[p.pos]
	p.pos++
	var want any
	switch {
	case lit.kind == tString:
		want = strings.ToLower(lit.text)
	case lit.kind == tIdent && strings.EqualFold(lit.text, "true"):
		want = true
	case lit.kind == tIdent && strings.EqualFold(lit.text, "false"):
		want = false
	case lit.kind == tIdent && strings.EqualFold(lit.text, "null"):
		want = nil
	default:
		return nil, fmt.Errorf("unsupported value %q", lit.text)
	}
	eq := func(x props) bool {
		got := x[name]
		if s, ok := got.(string); ok {
			if s == "" {
				got = nil
			} else {
				got = strings.ToLower(s)
			}
		}
		return got == want
	}
	if op == "ne" {
		return func(x props) bool { return !eq(x) }, nil
	}
	return eq, nil
}

// parseSearch parses Graph's $search: one or more "property:text" clauses
// in double quotes joined by OR or AND. A clause matches when a word of the
// property's value starts with the text (Graph tokenizes displayName and
// description; mail and userPrincipalName match from the start).
func parseSearch(s string) (filterExpr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty $search")
	}
	var clauses []filterExpr
	var ops []string
	for s != "" {
		if s[0] != '"' {
			return nil, fmt.Errorf("$search clauses must be in double quotes")
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, fmt.Errorf("unterminated $search clause")
		}
		clause := s[1 : end+1]
		s = strings.TrimSpace(s[end+2:])
		prop, text, ok := strings.Cut(clause, ":")
		if !ok {
			return nil, fmt.Errorf("$search clause %q lacks a property", clause)
		}
		key, v := strings.ToLower(strings.TrimSpace(prop)), strings.ToLower(strings.TrimSpace(text))
		clauses = append(clauses, func(x props) bool {
			val, _ := x[key].(string)
			val = strings.ToLower(val)
			if strings.HasPrefix(val, v) {
				return true
			}
			for _, w := range strings.FieldsFunc(val, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r)
			}) {
				if strings.HasPrefix(w, v) {
					return true
				}
			}
			return false
		})
		if s == "" {
			break
		}
		op, rest, _ := strings.Cut(s, " ")
		op = strings.ToUpper(op)
		if op != "OR" && op != "AND" {
			return nil, fmt.Errorf("expected OR or AND in $search, got %q", op)
		}
		ops = append(ops, op)
		s = strings.TrimSpace(rest)
	}
	return func(x props) bool {
		res := clauses[0](x)
		for i, op := range ops {
			if op == "OR" {
				res = res || clauses[i+1](x)
			} else {
				res = res && clauses[i+1](x)
			}
		}
		return res
	}, nil
}

package demo

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	goldap "github.com/go-ldap/ldap/v3"
)

// operational are the attributes a search returns only when asked for by
// name or with "+", as OpenLDAP treats them (lower case).
var operational = map[string]bool{
	"entryuuid": true, "memberof": true, "pwdaccountlockedtime": true,
	"createtimestamp": true, "modifytimestamp": true, "entrydn": true,
	"structuralobjectclass": true, "subschemasubentry": true, "hassubordinates": true,
	"entrycsn": true, "creatorsname": true, "modifiersname": true, "pwdchangedtime": true,
	// root DSE
	"namingcontexts": true, "supportedcontrol": true, "supportedextension": true,
	"supportedldapversion": true, "supportedfeatures": true, "supportedsaslmechanisms": true,
	"vendorname": true, "vendorversion": true,
}

// dnValued are the attributes whose values are DNs: they are compared as
// DNs (parsed, case-folded), not as strings.
var dnValued = map[string]bool{
	"member": true, "uniquemember": true, "memberof": true, "owner": true,
	"manager": true, "seealso": true, "secretary": true, "entrydn": true,
}

// values is one attribute of a node with its values prepared for matching.
type values struct {
	name   string   // as written
	vals   []string // as written
	folded []string // fold(v), or the DN key for DN-valued attributes
	op     bool
	dn     bool
}

// node is one entry as the server holds it.
type node struct {
	dn        string
	key       string   // normalized DN
	parent    string   // normalized parent DN
	ancestors []string // normalized DNs of every ancestor, nearest first
	attrs     []*values
	byName    map[string]*values // lower-case name
}

func (n *node) get(name string) *values { return n.byName[strings.ToLower(name)] }

// tree is every entry, in the order given, indexed by normalized DN.
type tree struct {
	nodes  []*node
	byKey  map[string]*node
	suffix string // normalized
}

// buildTree checks the data (one suffix, parents before children, no
// duplicates, parseable DNs) and derives memberOf from member and
// uniqueMember values.
func buildTree(d *Data) (*tree, error) {
	sfx, err := goldap.ParseDN(d.Suffix)
	if err != nil || len(sfx.RDNs) == 0 {
		return nil, fmt.Errorf("suffix %q is not a DN", d.Suffix)
	}
	t := &tree{byKey: map[string]*node{}, suffix: dnKey(sfx)}
	memberOf := map[string][]string{}
	for _, e := range d.Entries {
		p, err := goldap.ParseDN(e.DN)
		if err != nil || len(p.RDNs) == 0 {
			return nil, fmt.Errorf("entry %q: not a DN", e.DN)
		}
		n := &node{dn: e.DN, key: dnKey(p), byName: map[string]*values{}}
		for i := 1; i < len(p.RDNs); i++ {
			n.ancestors = append(n.ancestors, dnKey(&goldap.DN{RDNs: p.RDNs[i:]}))
		}
		switch {
		case n.key == t.suffix:
		case len(n.ancestors) == 0 || !slices.Contains(n.ancestors, t.suffix):
			return nil, fmt.Errorf("entry %q is not under the suffix %s", e.DN, d.Suffix)
		case t.byKey[n.ancestors[0]] == nil:
			return nil, fmt.Errorf("entry %q comes before its parent", e.DN)
		}
		if len(n.ancestors) > 0 {
			n.parent = n.ancestors[0]
		}
		if t.byKey[n.key] != nil {
			return nil, fmt.Errorf("entry %q is there twice", e.DN)
		}
		for _, a := range e.Attributes {
			if err := n.add(a.Name, a.Values); err != nil {
				return nil, fmt.Errorf("entry %q: %w", e.DN, err)
			}
		}
		t.nodes = append(t.nodes, n)
		t.byKey[n.key] = n
	}
	for _, n := range t.nodes {
		for _, attr := range []string{"member", "uniqueMember"} {
			if v := n.get(attr); v != nil {
				for _, k := range v.folded {
					if k != "" && k != n.key {
						memberOf[k] = append(memberOf[k], n.dn)
					}
				}
			}
		}
	}
	for _, n := range t.nodes {
		if groups := memberOf[n.key]; len(groups) > 0 && n.get("memberOf") == nil {
			_ = n.add("memberOf", groups)
		}
	}
	return t, nil
}

// add sets attribute name of n.
func (n *node) add(name string, vals []string) error {
	lower := strings.ToLower(name)
	if name == "" || strings.ContainsAny(name, "; ") {
		return fmt.Errorf("attribute name %q", name)
	}
	if n.byName[lower] != nil {
		return fmt.Errorf("attribute %s is given twice", name)
	}
	v := &values{name: name, vals: vals, op: operational[lower], dn: dnValued[lower]}
	for _, s := range vals {
		if v.dn {
			v.folded = append(v.folded, dnString(s))
		} else {
			v.folded = append(v.folded, fold(s))
		}
	}
	n.attrs = append(n.attrs, v)
	n.byName[lower] = v
	return nil
}

// fold is the form values are compared in: case folded, leading and
// trailing spaces dropped and inner runs of spaces made one (the spirit of
// caseIgnoreMatch).
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// dnKey is the normalized form of a parsed DN: attribute types and values
// case-folded, written back with the escaping a DN needs, multi-valued
// RDNs in a fixed order.
func dnKey(d *goldap.DN) string {
	parts := make([]string, 0, len(d.RDNs))
	for _, rdn := range d.RDNs {
		avas := make([]string, 0, len(rdn.Attributes))
		for _, a := range rdn.Attributes {
			ava := goldap.AttributeTypeAndValue{Type: strings.ToLower(a.Type), Value: fold(a.Value)}
			avas = append(avas, ava.String())
		}
		slices.Sort(avas)
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ",")
}

// dnString normalizes a DN given as text; text that is not a DN is only
// folded (and then matches nothing that is).
func dnString(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	p, err := goldap.ParseDN(s)
	if err != nil {
		return "\x00" + fold(s)
	}
	return dnKey(p)
}

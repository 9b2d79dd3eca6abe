package slapdtest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// Data is a directory's content, built in Go and bulk-loaded with slapadd
// before the server starts. memberOf is written into the LDIF (slapadd
// runs no overlays), as the memberof overlay would keep it: on every user
// and group that a group lists in member or uniqueMember.
//
// DNs are built with their RDN values escaped (cn=Perez\, Yusuf); values
// that LDIF cannot carry as text (unicode, leading spaces) are written in
// base64.
type Data struct {
	suffix  string
	entries []*entry
	byKey   map[string]*entry
	gid     int
}

type entry struct {
	dn    string
	attrs []attr
	// memberOf collects the groups listing this entry.
	memberOf []string
}

type attr struct {
	name   string
	values []string
}

func (e *entry) add(name string, values ...string) {
	for i := range e.attrs {
		if strings.EqualFold(e.attrs[i].name, name) {
			e.attrs[i].values = append(e.attrs[i].values, values...)
			return
		}
	}
	e.attrs = append(e.attrs, attr{name: name, values: values})
}

// NewData starts the content of a directory with suffix (e.g.
// "dc=example,dc=com"; "" means that): the suffix entry, ou=people,
// ou=groups and the service account Server.BindDN binds as.
func NewData(suffix string) *Data {
	if suffix == "" {
		suffix = DefaultSuffix
	}
	d := &Data{suffix: suffix, byKey: map[string]*entry{}, gid: 10000}
	p, err := goldap.ParseDN(suffix)
	if err != nil || len(p.RDNs) == 0 {
		panic(fmt.Sprintf("slapdtest: suffix %q is not a DN", suffix))
	}
	first := p.RDNs[0].Attributes[0]
	top := &entry{dn: suffix}
	switch strings.ToLower(first.Type) {
	case "dc":
		top.add("objectClass", "top", "dcObject", "organization")
		top.add("dc", first.Value)
		top.add("o", first.Value)
	case "o":
		top.add("objectClass", "top", "organization")
		top.add("o", first.Value)
	default:
		panic(fmt.Sprintf("slapdtest: suffix %q must start with dc= or o=", suffix))
	}
	d.put(top)
	d.ensure(d.PeopleDN())
	d.ensure(d.GroupsDN())
	svc := &entry{dn: "cn=" + serviceCN + "," + suffix}
	svc.add("objectClass", "top", "organizationalRole", "simpleSecurityObject")
	svc.add("cn", serviceCN)
	svc.add("userPassword", ServicePassword)
	d.put(svc)
	return d
}

// Suffix is the directory's suffix.
func (d *Data) Suffix() string { return d.suffix }

// PeopleDN is ou=people under the suffix, where users go by default.
func (d *Data) PeopleDN() string { return "ou=people," + d.suffix }

// GroupsDN is ou=groups under the suffix, where groups go by default.
func (d *Data) GroupsDN() string { return "ou=groups," + d.suffix }

// key identifies a DN however it is spelled: parsed, case-folded, RDN
// parts sorted.
func key(dn string) string {
	p, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	esc := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`, `=`, `\=`)
	rdns := make([]string, len(p.RDNs))
	for i, rdn := range p.RDNs {
		parts := make([]string, len(rdn.Attributes))
		for j, a := range rdn.Attributes {
			parts[j] = esc.Replace(strings.ToLower(a.Type)) + "=" + esc.Replace(strings.ToLower(a.Value))
		}
		slices.Sort(parts)
		rdns[i] = strings.Join(parts, "+")
	}
	return strings.Join(rdns, ",")
}

func (d *Data) put(e *entry) {
	k := key(e.dn)
	if _, dup := d.byKey[k]; dup {
		panic("slapdtest: duplicate entry " + e.dn)
	}
	d.byKey[k] = e
	d.entries = append(d.entries, e)
}

// ensure creates the organizational units on the way to dn.
func (d *Data) ensure(dn string) {
	if _, ok := d.byKey[key(dn)]; ok {
		return
	}
	p, err := goldap.ParseDN(dn)
	if err != nil || len(p.RDNs) == 0 {
		panic("slapdtest: not a DN: " + dn)
	}
	first := p.RDNs[0].Attributes[0]
	if !strings.EqualFold(first.Type, "ou") {
		panic("slapdtest: parent " + dn + " does not exist and is not an ou")
	}
	_, parent, _ := strings.Cut(dn, ",")
	d.ensure(parent)
	e := &entry{dn: dn}
	e.add("objectClass", "top", "organizationalUnit")
	e.add("ou", first.Value)
	d.put(e)
}

// OU adds (if needed) the organizational unit name under the suffix and
// returns its DN, for users or groups kept elsewhere.
func (d *Data) OU(name string) string {
	dn := "ou=" + EscapeRDN(name) + "," + d.suffix
	d.ensure(dn)
	return dn
}

// User is an inetOrgPerson to add.
type User struct {
	// UID is the username (required).
	UID string
	// CN defaults to UID, SN to the last word of CN.
	CN, SN, GivenName, DisplayName string
	// Mail is optional: users without mail are left without.
	Mail string
	// EntryUUID defaults to a UUID derived from the DN (see UUID).
	EntryUUID string
	// RDN is the naming attribute, "uid" (default) or "cn".
	RDN string
	// Parent defaults to PeopleDN; missing ou= parents are created.
	Parent string
	// Attrs are further attributes (any inetOrgPerson attribute, e.g.
	// employeeType to stand for userAccountControl in flavor tests).
	Attrs map[string][]string
}

// AddUser adds u and returns its DN.
func (d *Data) AddUser(u User) string {
	if u.UID == "" {
		panic("slapdtest: a user needs a UID")
	}
	cn := firstOf(u.CN, u.UID)
	sn := u.SN
	if sn == "" {
		f := strings.Fields(strings.ReplaceAll(cn, ",", " "))
		sn = f[len(f)-1]
	}
	parent := firstOf(u.Parent, d.PeopleDN())
	d.ensure(parent)
	var dn string
	switch strings.ToLower(firstOf(u.RDN, "uid")) {
	case "uid":
		dn = "uid=" + EscapeRDN(u.UID) + "," + parent
	case "cn":
		dn = "cn=" + EscapeRDN(cn) + "," + parent
	default:
		panic("slapdtest: RDN must be uid or cn")
	}
	e := &entry{dn: dn}
	e.add("objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
	e.add("uid", u.UID)
	e.add("cn", cn)
	e.add("sn", sn)
	if u.GivenName != "" {
		e.add("givenName", u.GivenName)
	}
	if u.DisplayName != "" {
		e.add("displayName", u.DisplayName)
	}
	if u.Mail != "" {
		e.add("mail", u.Mail)
	}
	e.add("entryUUID", firstOf(u.EntryUUID, UUID(dn)))
	for _, name := range sortedKeys(u.Attrs) {
		e.add(name, u.Attrs[name]...)
	}
	d.put(e)
	return dn
}

// Group is a group to add.
type Group struct {
	// CN is the group's name (required).
	CN string
	// Class is "groupOfNames" (default), "groupOfUniqueNames" or
	// "posixGroup".
	Class string
	// Members are member DNs (users or groups; as written, so a test may
	// spell them differently from the entries' DNs). groupOfNames and
	// groupOfUniqueNames need at least one: an empty one gets the empty DN.
	Members []string
	// MemberUIDs are the memberUid values of a posixGroup.
	MemberUIDs []string
	// EntryUUID defaults to a UUID derived from the DN.
	EntryUUID string
	// Parent defaults to GroupsDN.
	Parent string
	Attrs  map[string][]string
}

// AddGroup adds g and returns its DN.
func (d *Data) AddGroup(g Group) string {
	if g.CN == "" {
		panic("slapdtest: a group needs a CN")
	}
	parent := firstOf(g.Parent, d.GroupsDN())
	d.ensure(parent)
	dn := "cn=" + EscapeRDN(g.CN) + "," + parent
	e := &entry{dn: dn}
	switch strings.ToLower(firstOf(g.Class, "groupOfNames")) {
	case "groupofnames":
		e.add("objectClass", "top", "groupOfNames")
		e.add("cn", g.CN)
		e.add("member", orEmptyDN(g.Members)...)
	case "groupofuniquenames":
		e.add("objectClass", "top", "groupOfUniqueNames")
		e.add("cn", g.CN)
		e.add("uniqueMember", orEmptyDN(g.Members)...)
	case "posixgroup":
		e.add("objectClass", "top", "posixGroup")
		e.add("cn", g.CN)
		d.gid++
		e.add("gidNumber", fmt.Sprint(d.gid))
		if len(g.MemberUIDs) > 0 {
			e.add("memberUid", g.MemberUIDs...)
		}
	default:
		panic("slapdtest: unknown group class " + g.Class)
	}
	e.add("entryUUID", firstOf(g.EntryUUID, UUID(dn)))
	for _, name := range sortedKeys(g.Attrs) {
		e.add(name, g.Attrs[name]...)
	}
	d.put(e)
	return dn
}

// AddEntry adds an arbitrary entry (e.g. a referral object: objectClass
// referral and extensibleObject, ref: ldap://elsewhere/...).
func (d *Data) AddEntry(dn string, attrs map[string][]string) string {
	e := &entry{dn: dn}
	for _, name := range sortedKeys(attrs) {
		e.add(name, attrs[name]...)
	}
	d.put(e)
	return dn
}

func orEmptyDN(members []string) []string {
	if len(members) == 0 {
		return []string{""}
	}
	return members
}

// AddUsers adds n generated users named prefix000000, prefix000001, … under
// parent ("" for PeopleDN), with given names, surnames and mail, and
// returns their DNs in order. For load tests and benchmarks.
func (d *Data) AddUsers(n int, prefix, parent string) []string {
	given := []string{"Ana", "Andrei", "Bea", "Chen", "Dara", "Emil", "Fatou", "Goran", "Hana", "Ivo", "Jun", "Kofi"}
	family := []string{"Alvarez", "Brown", "Costa", "Dumitru", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Lopez"}
	dns := make([]string, n)
	for i := range n {
		uid := fmt.Sprintf("%s%06d", prefix, i)
		g, f := given[i%len(given)], family[(i/len(given))%len(family)]
		dns[i] = d.AddUser(User{
			UID: uid, CN: g + " " + f + " " + uid, SN: f, GivenName: g,
			DisplayName: g + " " + f, Mail: uid + "@example.com", Parent: parent,
		})
	}
	return dns
}

// UUID is the entryUUID the builder gives the entry named dn when none is
// set: derived from the DN (case-insensitively), so tests know it.
func UUID(dn string) string {
	h := sha1.Sum([]byte(key(dn)))
	h[6] = (h[6] & 0x0f) | 0x50 // version 5
	h[8] = (h[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Len is the number of entries, the suffix and its units included.
func (d *Data) Len() int { return len(d.entries) }

// WriteLDIF writes the content as LDIF for slapadd, parents first, with
// memberOf added as the memberof overlay would.
func (d *Data) WriteLDIF(w io.Writer) error { return d.writeLDIF(w, true) }

func (d *Data) writeLDIF(w io.Writer, memberOf bool) error {
	for _, e := range d.entries {
		e.memberOf = e.memberOf[:0]
	}
	for _, g := range d.entries {
		if !memberOf {
			break
		}
		for _, a := range g.attrs {
			if !strings.EqualFold(a.name, "member") && !strings.EqualFold(a.name, "uniqueMember") {
				continue
			}
			for _, m := range a.values {
				if m == "" {
					continue
				}
				if target, ok := d.byKey[key(m)]; ok {
					target.memberOf = append(target.memberOf, g.dn)
				}
			}
		}
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, e := range d.entries {
		writeLine(bw, "dn", e.dn)
		for _, a := range e.attrs {
			for _, v := range a.values {
				writeLine(bw, a.name, v)
			}
		}
		for _, g := range e.memberOf {
			writeLine(bw, "memberOf", g)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// writeLine writes one LDIF attribute line, in base64 when the value is
// not a SAFE-STRING (RFC 2849).
func writeLine(w *bufio.Writer, name, value string) {
	if safeString(value) {
		w.WriteString(name)
		w.WriteString(": ")
		w.WriteString(value)
		w.WriteByte('\n')
		return
	}
	w.WriteString(name)
	w.WriteString(":: ")
	w.WriteString(base64.StdEncoding.EncodeToString([]byte(value)))
	w.WriteByte('\n')
}

func safeString(v string) bool {
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c > 127 {
			return false
		}
	}
	return true
}

// EscapeRDN escapes an RDN value as RFC 4514 asks: "Perez, Yusuf" becomes
// Perez\, Yusuf.
func EscapeRDN(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\00`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys(m map[string][]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// AddRealisticUsers adds n users as a real directory holds them —
// inetOrgPerson and posixAccount with uid, cn, sn, givenName, displayName,
// mail, employeeNumber, uidNumber, gidNumber, homeDirectory and loginShell
// — in groups groupOfNames groups (each user in one to three of them, so
// that every user carries memberOf), and returns the users' DNs.
func (d *Data) AddRealisticUsers(n, groups int) []string {
	given := []string{"Ana", "Andrei", "Bea", "Chen", "Dara", "Emil", "Fatou", "Goran", "Hana", "Ivo", "Jun", "Kofi"}
	family := []string{"Alvarez", "Brown", "Costa", "Dumitru", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Lopez"}
	dns := make([]string, n)
	members := make([][]string, groups)
	for i := range n {
		uid := fmt.Sprintf("user%06d", i)
		g, f := given[i%len(given)], family[(i/len(given))%len(family)]
		dns[i] = d.AddUser(User{
			UID: uid, CN: g + " " + f + " " + uid, SN: f, GivenName: g,
			DisplayName: g + " " + f, Mail: uid + "@corp.example.com",
			Attrs: map[string][]string{
				"objectClass":    {"posixAccount"},
				"employeeNumber": {fmt.Sprint(100000 + i)},
				"uidNumber":      {fmt.Sprint(20000 + i)},
				"gidNumber":      {fmt.Sprint(10000 + i%groups)},
				"homeDirectory":  {"/home/" + uid},
				"loginShell":     {"/bin/bash"},
			},
		})
		for k := 0; k <= i%3 && groups > 0; k++ {
			gi := (i*7 + k*31) % groups
			members[gi] = append(members[gi], dns[i])
		}
	}
	for gi := range groups {
		d.AddGroup(Group{CN: fmt.Sprintf("team%03d", gi), Members: members[gi]})
	}
	return dns
}

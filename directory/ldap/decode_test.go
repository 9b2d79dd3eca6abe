package ldap

import (
	"bytes"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestDecodeGUID(t *testing.T) {
	// The first three fields are little-endian on the wire.
	raw := []byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	got, err := DecodeGUID(raw)
	if err != nil || got != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Fatalf("DecodeGUID = %q, %v", got, err)
	}
	// A real one: AD shows {6f5d5a9c-3d4a-4b5c-9d7e-8f9a0b1c2d3e} for
	// these bytes.
	real := []byte{0x9c, 0x5a, 0x5d, 0x6f, 0x4a, 0x3d, 0x5c, 0x4b, 0x9d, 0x7e, 0x8f, 0x9a, 0x0b, 0x1c, 0x2d, 0x3e}
	if got, _ := DecodeGUID(real); got != "6f5d5a9c-3d4a-4b5c-9d7e-8f9a0b1c2d3e" {
		t.Errorf("DecodeGUID(real) = %q", got)
	}
	for _, s := range []string{got, strings.ToUpper(got), "{" + got + "}"} {
		back, err := EncodeGUID(s)
		if err != nil || !bytes.Equal(back, raw) {
			t.Errorf("EncodeGUID(%q) = %x, %v; want %x", s, back, err, raw)
		}
	}
	for _, bad := range [][]byte{nil, raw[:15], append(raw, 0)} {
		if _, err := DecodeGUID(bad); err == nil {
			t.Errorf("DecodeGUID(%d bytes) succeeded", len(bad))
		}
	}
	for _, bad := range []string{"", "x", "00112233-4455-6677-8899-aabbccddeeZZ", "001122334455667788990aabbccddeeff0"} {
		if _, err := EncodeGUID(bad); err == nil {
			t.Errorf("EncodeGUID(%q) succeeded", bad)
		}
	}
}

func TestGUIDFilterValueIsEscapedBytes(t *testing.T) {
	s, err := newSchema(FlavorActiveDirectory, Attributes{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.idFilterValue("00112233-4455-6677-8899-aabbccddeeff")
	if err != nil || v != `\33\22\11\00\55\44\77\66\88\99\aa\bb\cc\dd\ee\ff` {
		t.Errorf("idFilterValue = %q, %v", v, err)
	}
	if _, err := s.idFilterValue("not-a-guid"); err == nil {
		t.Error("a malformed GUID was accepted")
	}
	e := goldap.NewEntry("CN=x", nil)
	e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", ByteValues: [][]byte{{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}})
	if id, err := s.externalIDOf(e); err != nil || id != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Errorf("externalIDOf = %q, %v", id, err)
	}
}

func TestUACDisabled(t *testing.T) {
	for v, want := range map[string]bool{
		"512":         false, // NORMAL_ACCOUNT
		"514":         true,  // NORMAL_ACCOUNT | ACCOUNTDISABLE
		"66048":       false, // + DONT_EXPIRE_PASSWORD
		"66050":       true,
		"2":           true,
		" 546 ":       true,
		"-2147483646": true, // AD writes the 32-bit value signed
	} {
		got, err := UACDisabled(v)
		if err != nil || got != want {
			t.Errorf("UACDisabled(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	if _, err := UACDisabled("disabled"); err == nil {
		t.Error("UACDisabled accepted a word")
	}
}

func TestUserEntryByFlavor(t *testing.T) {
	ad, _ := newSchema(FlavorActiveDirectory, Attributes{})
	e := goldap.NewEntry("CN=Anna Berg,OU=People,DC=corp,DC=example", map[string][]string{
		"objectClass":        {"top", "person", "organizationalPerson", "user"},
		"userPrincipalName":  {"anna.berg@corp.example"},
		"userAccountControl": {"514"},
		"cn":                 {"Anna Berg"},
	})
	u, err := ad.userEntry(e)
	if err == nil || u.ExternalID != "" {
		t.Errorf("an entry without objectGUID: %+v, %v; want an error row", u, err)
	}
	if u.Name != "anna.berg" || u.Email != "anna.berg@corp.example" || !u.Disabled || u.DisplayName != "Anna Berg" {
		t.Errorf("AD user = %+v", u)
	}

	ipa, _ := newSchema(FlavorFreeIPA, Attributes{})
	for v, want := range map[string]bool{"TRUE": true, "true": true, "FALSE": false, "": false} {
		attrs := map[string][]string{"uid": {"x"}, "ipaUniqueID": {"a-b"}}
		if v != "" {
			attrs["nsAccountLock"] = []string{v}
		}
		if u, _ := ipa.userEntry(goldap.NewEntry("uid=x", attrs)); u.Disabled != want || u.ExternalID != "a-b" {
			t.Errorf("freeipa nsAccountLock=%q: %+v", v, u)
		}
	}

	ol, _ := newSchema(FlavorOpenLDAP, Attributes{})
	for v, want := range map[string]bool{"000001010000Z": true, "20260101000000Z": false} {
		u, _ := ol.userEntry(goldap.NewEntry("uid=x", map[string][]string{"uid": {"x"}, "entryUUID": {"u"}, "pwdAccountLockedTime": {v}}))
		if u.Disabled != want {
			t.Errorf("openldap pwdAccountLockedTime=%q: Disabled = %v", v, u.Disabled)
		}
	}
}

func TestSchemaOverridesAndRefusals(t *testing.T) {
	s, err := newSchema("", Attributes{Username: "mailNickname", Member: "memberUid", UserClass: "account"})
	if err != nil {
		t.Fatal(err)
	}
	if s.flavor != FlavorOpenLDAP || s.username != "mailNickname" || s.memberUID != "memberUid" || len(s.memberAttrs) != 0 || s.userFilter != "(objectClass=account)" {
		t.Errorf("schema = %+v", s)
	}
	if _, err := newSchema("openldap", Attributes{Username: "uid)(cn=*"}); err == nil {
		t.Error("an attribute name with filter syntax was accepted")
	}
	if _, err := newSchema("edirectory", Attributes{}); err == nil {
		t.Error("an unknown flavor was accepted")
	}
}

func TestQueryFilters(t *testing.T) {
	s, _ := newSchema(FlavorOpenLDAP, Attributes{})
	tests := []struct{ query, user, group string }{
		{"an*", "(|(uid=an*)(cn=an*)(givenName=an*)(sn=an*)(displayName=an*)(mail=an*))", "(cn=an*)"},
		{"*)(uid=*", "(|(uid=*\\29\\28uid=*)(cn=*\\29\\28uid=*)(givenName=*\\29\\28uid=*)(sn=*\\29\\28uid=*)(displayName=*\\29\\28uid=*)(mail=*\\29\\28uid=*))", "(cn=*\\29\\28uid=*)"},
		{"", "(|(uid=*)(cn=*)(givenName=*)(sn=*)(displayName=*)(mail=*))", "(cn=*)"},
		{"(uid=x)", "(uid=x)", "(uid=x)"},
	}
	for _, tt := range tests {
		u, g, err := s.queryFilters(tt.query)
		if err != nil || u != tt.user || g != tt.group {
			t.Errorf("queryFilters(%q) = %q, %q, %v\nwant %q, %q", tt.query, u, g, err, tt.user, tt.group)
		}
	}
	ad, _ := newSchema(FlavorActiveDirectory, Attributes{})
	if u, _, _ := ad.queryFilters("an*"); !strings.Contains(u, "(sAMAccountName=an*)") {
		t.Errorf("AD user filter = %s", u)
	}
	if ad.userFilter != "(&(objectCategory=person)(objectClass=user))" {
		t.Errorf("AD user filter = %s (computers are users too)", ad.userFilter)
	}
	if _, _, err := s.queryFilters("(uid=an"); err == nil || err.Error() != `invalid LDAP filter "(uid=an": unexpected end of filter` {
		t.Errorf("malformed filter: %v", err)
	}
}

func FuzzWildcardValueKeepsTheFilterShape(f *testing.F) {
	for _, s := range []string{"an*", "*)(uid=*", `\`, "a**b", "(", "é*"} {
		f.Add(s)
	}
	s, _ := newSchema(FlavorOpenLDAP, Attributes{})
	f.Fuzz(func(t *testing.T, q string) {
		if strings.HasPrefix(strings.TrimSpace(q), "(") {
			return
		}
		_, group, err := s.queryFilters(q)
		if err != nil {
			t.Fatalf("queryFilters(%q): %v", q, err)
		}
		p, err := goldap.CompileFilter(group)
		if err != nil {
			t.Fatalf("%q: %v", group, err)
		}
		// Always one assertion on cn: never an AND, OR or NOT.
		if p.Tag != goldap.FilterEqualityMatch && p.Tag != goldap.FilterSubstrings && p.Tag != goldap.FilterPresent {
			t.Fatalf("%q compiled to filter tag %d", group, p.Tag)
		}
	})
}

func TestSplitAttr(t *testing.T) {
	tests := []struct {
		desc   string
		name   string
		r      valueRange
		ranged bool
		ok     bool
	}{
		{"member", "member", valueRange{}, false, true},
		{"member;range=0-1499", "member", valueRange{0, 1499}, true, true},
		{"member;Range=1500-*", "member", valueRange{1500, -1}, true, true},
		{"member;range=x-1", "member", valueRange{}, true, false},
		{"member;binary", "member", valueRange{}, false, true},
	}
	for _, tt := range tests {
		name, r, ranged, ok := splitAttr(tt.desc)
		if name != tt.name || r != tt.r || ranged != tt.ranged || ok != tt.ok {
			t.Errorf("splitAttr(%q) = %q %v %v %v", tt.desc, name, r, ranged, ok)
		}
	}
}

func TestDNKeysCompareParsed(t *testing.T) {
	same := [][2]string{
		{`cn=Perez\2C Yusuf,ou=people,dc=example,dc=com`, `cn=Perez\, Yusuf,ou=people,dc=example,dc=com`},
		{`CN=PEREZ\, YUSUF,OU=People,DC=Example,DC=com`, `cn=perez\2c yusuf,ou=people,dc=example,dc=com`},
		{`cn=Zoë,dc=x`, `cn=Zo\c3\ab,dc=x`},
		{`cn=ZOË,dc=x`, `cn=zoë,dc=x`},
		{`cn=a+uid=b,dc=x`, `uid=b+cn=a,dc=x`},
		{`cn=a, dc=x`, `cn=a,dc=x`},
	}
	for _, p := range same {
		a, _ := dnKey(p[0])
		b, _ := dnKey(p[1])
		if a != b || !sameDN(p[0], p[1]) {
			t.Errorf("%s and %s differ: %q vs %q", p[0], p[1], a, b)
		}
	}
	differ := [][2]string{
		{`cn=a\,b,dc=x`, `cn=a,b=dc,dc=x`},
		{`cn=a\+uid=b,dc=x`, `cn=a+uid=b,dc=x`},
		{`cn=a,dc=x`, `cn=a,dc=y`},
	}
	for _, p := range differ {
		a, _ := dnKey(p[0])
		b, _ := dnKey(p[1])
		if a == b {
			t.Errorf("%s and %s share the key %q", p[0], p[1], a)
		}
	}
}

func TestReferralsThatMatter(t *testing.T) {
	harmless := []string{
		"ldap://DomainDnsZones.corp.example/DC=DomainDnsZones,DC=corp,DC=example",
		"ldap://ForestDnsZones.corp.example/DC=ForestDnsZones,DC=corp,DC=example",
		"ldap://corp.example/CN=Configuration,DC=corp,DC=example",
	}
	for _, r := range harmless {
		if referralsMatter([]string{r}) {
			t.Errorf("%s matters", r)
		}
	}
	for _, r := range []string{
		"ldap://child.corp.example/DC=child,DC=corp,DC=example",
		"ldap://branch.example.com/ou=branch,dc=example,dc=com",
		"not a url %%",
	} {
		if !referralsMatter(append(harmless, r)) {
			t.Errorf("%s does not matter", r)
		}
	}
}

func TestActiveDirectoryMemberFilters(t *testing.T) {
	s, _ := newSchema(FlavorActiveDirectory, Attributes{})
	got := s.inChainFilter(`CN=Sales\, EMEA (all),OU=Groups,DC=corp,DC=example`)
	want := `(&(&(objectCategory=person)(objectClass=user))(memberOf:1.2.840.113556.1.4.1941:=CN=Sales\5c, EMEA \28all\29,OU=Groups,DC=corp,DC=example))`
	if got != want {
		t.Errorf("inChainFilter =\n%s\nwant\n%s", got, want)
	}
	if _, err := goldap.CompileFilter(got); err != nil {
		t.Errorf("%s: %v", got, err)
	}
	if got := s.primaryGroupFilter("513"); got != "(&(&(objectCategory=person)(objectClass=user))(primaryGroupID=513))" {
		t.Errorf("primaryGroupFilter = %s", got)
	}
}

package demo

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

// These tests speak LDAP to the server with go-ldap directly, for what the
// adapter never asks: scopes, attribute lists, limits and errors.

// dial connects with StartTLS, trusting the server's CA, and binds as the
// service account.
func dial(t *testing.T, s *LDAPServer) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())
	if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Bind(s.BindDN(), s.BindPassword()); err != nil {
		t.Fatalf("bind: %v", err)
	}
	return c
}

func search(c *goldap.Conn, base string, scope int, filter string, attrs ...string) (*goldap.SearchResult, error) {
	return c.Search(goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
}

func dns(r *goldap.SearchResult) []string {
	var out []string
	for _, e := range r.Entries {
		out = append(out, e.DN)
	}
	return out
}

func TestDemoProtocol_Scopes(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	c := dial(t, s)
	contractors := "ou=Contractors," + PeopleDN
	people := len(sampleEntries(isPerson))
	inContractors := len(sampleEntries(func(e Entry) bool { return isPerson(e) && strings.Contains(e.DN, contractors) }))
	inRetail := len(sampleEntries(func(e Entry) bool { return isPerson(e) && strings.Contains(e.DN, RetailDN) }))
	if inContractors < 5 || inRetail != RetailMembers {
		t.Fatalf("%d contractors and %d store staff in the sample data", inContractors, inRetail)
	}
	tests := []struct {
		base  string
		scope int
		want  int
	}{
		{PeopleDN, goldap.ScopeBaseObject, 0}, // an OU is no person
		{"uid=andarm," + PeopleDN, goldap.ScopeBaseObject, 1},
		{PeopleDN, goldap.ScopeSingleLevel, people - inContractors - inRetail},
		{PeopleDN, goldap.ScopeWholeSubtree, people},
		{"OU=people,DC=Corp,DC=Example", goldap.ScopeWholeSubtree, people}, // DNs ignore case
		{contractors, goldap.ScopeSingleLevel, inContractors},
		{RetailDN, goldap.ScopeSingleLevel, inRetail},
		{GroupsDN, goldap.ScopeWholeSubtree, 0},
	}
	for _, tt := range tests {
		r, err := search(c, tt.base, tt.scope, "(objectClass=inetOrgPerson)", "uid")
		if err != nil {
			t.Fatalf("%s scope %d: %v", tt.base, tt.scope, err)
		}
		if len(r.Entries) != tt.want {
			t.Errorf("%s scope %d: %d entries, want %d", tt.base, tt.scope, len(r.Entries), tt.want)
		}
	}
	r, err := search(c, Suffix, goldap.ScopeSingleLevel, "(objectClass=*)", "1.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{PeopleDN, GroupsDN, "ou=Service," + Suffix}
	if got := dns(r); !slices.Equal(got, want) {
		t.Errorf("one level under the suffix: %q, want %q", got, want)
	}

	_, err = search(c, "ou=Nowhere,"+Suffix, goldap.ScopeWholeSubtree, "(objectClass=*)")
	var le *goldap.Error
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) || !errorAs(err, &le) || !strings.EqualFold(le.MatchedDN, Suffix) {
		t.Errorf("a base that does not exist: %v, want noSuchObject matching %s", err, Suffix)
	}
	if _, err := search(c, "not a dn", goldap.ScopeWholeSubtree, "(objectClass=*)"); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidDNSyntax) {
		t.Errorf("a base that is no DN: %v, want invalidDNSyntax", err)
	}
}

func errorAs(err error, le **goldap.Error) bool {
	e, ok := err.(*goldap.Error)
	if ok {
		*le = e
	}
	return ok
}

func TestDemoProtocol_RequestedAttributes(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	c := dial(t, s)
	attrNames := func(attrs ...string) []string {
		t.Helper()
		r, err := search(c, "uid="+UserImported+","+PeopleDN, goldap.ScopeBaseObject, "(objectClass=*)", attrs...)
		if err != nil || len(r.Entries) != 1 {
			t.Fatalf("read %s with %q: %v", UserImported, attrs, err)
		}
		var out []string
		for _, a := range r.Entries[0].Attributes {
			out = append(out, a.Name)
		}
		return out
	}
	user := []string{"objectClass", "uid", "cn", "givenName", "sn", "displayName", "mail", "title", "departmentNumber", "employeeNumber"}
	ops := []string{"entryUUID", "memberOf"}
	tests := []struct {
		attrs []string
		want  []string
	}{
		{nil, user},
		{[]string{"*"}, user},
		{[]string{"+"}, ops},
		{[]string{"*", "+"}, append(slices.Clone(user), ops...)},
		{[]string{"1.1"}, nil},
		{[]string{"UID", "MAIL", "entryuuid", "nonexistent"}, []string{"uid", "mail", "entryUUID"}},
		{[]string{"member;range=0-1499", "cn"}, []string{"cn"}},
		{[]string{"*", "memberOf"}, append(slices.Clone(user), "memberOf")},
	}
	for _, tt := range tests {
		if got := attrNames(tt.attrs...); !slices.Equal(got, tt.want) {
			t.Errorf("asked for %q, got %q, want %q", tt.attrs, got, tt.want)
		}
	}
	r, err := c.Search(goldap.NewSearchRequest("uid="+UserImported+","+PeopleDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, true, "(objectClass=*)", []string{"cn", "mail"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.Entries[0].Attributes {
		if len(a.Values) != 0 {
			t.Errorf("typesOnly: %s came with values %q", a.Name, a.Values)
		}
	}
	// memberOf lists the direct groups, as the memberof overlay keeps it.
	r, err = search(c, "uid="+UserImported+","+PeopleDN, goldap.ScopeBaseObject, "(objectClass=*)", "memberOf")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Entries[0].GetAttributeValues("memberOf"); !slices.Contains(got, "cn="+GroupAnalysis+","+GroupsDN) || !slices.Contains(got, "cn="+GroupAllStaff+","+GroupsDN) {
		t.Errorf("memberOf of %s: %q", UserImported, got)
	}
}

func TestDemoProtocol_RootDSEAnnouncesPagingAndStartTLS(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	c, err := goldap.DialURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Anonymously, before any bind: the root DSE is open to all.
	r, err := search(c, "", goldap.ScopeBaseObject, "(objectClass=*)", "namingContexts", "supportedControl", "supportedExtension", "supportedLDAPVersion")
	if err != nil || len(r.Entries) != 1 {
		t.Fatalf("root DSE: %v", err)
	}
	e := r.Entries[0]
	for attr, want := range map[string]string{
		"namingContexts": Suffix, "supportedControl": goldap.ControlTypePaging,
		"supportedExtension": "1.3.6.1.4.1.1466.20037", "supportedLDAPVersion": "3",
	} {
		if !slices.Contains(e.GetAttributeValues(attr), want) {
			t.Errorf("root DSE %s = %q, want %s", attr, e.GetAttributeValues(attr), want)
		}
	}
	if _, err := search(c, Suffix, goldap.ScopeWholeSubtree, "(uid=andarm)"); !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights) {
		t.Errorf("anonymous search: %v, want insufficientAccessRights", err)
	}
	if err := c.Bind(s.BindDN(), s.BindPassword()); !goldap.IsErrorWithCode(err, goldap.LDAPResultConfidentialityRequired) {
		t.Errorf("bind before StartTLS: %v, want confidentialityRequired", err)
	}
}

func TestDemoProtocol_LimitsAndPaging(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	c := dial(t, s)
	people := len(sampleEntries(isPerson))

	// A client's size limit.
	r, err := c.Search(goldap.NewSearchRequest(Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 10, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil))
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || r == nil || len(r.Entries) != 10 {
		t.Fatalf("size limit 10: %v with %d entries, want sizeLimitExceeded after 10", err, entriesOf(r))
	}
	// Exactly at the limit is no error.
	if _, err := c.Search(goldap.NewSearchRequest(Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 8, 0, false, "(|(uid=an*)(uid=AAndrei)(uid=kevand))", []string{"uid"}, nil)); err != nil {
		t.Fatalf("7 entries under a limit of 8: %v", err)
	}

	// Paging: every entry once, in pages of 40.
	r, err = c.SearchWithPaging(goldap.NewSearchRequest(Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil), 40)
	if err != nil || len(r.Entries) != people {
		t.Fatalf("paged search: %v with %d entries, want %d", err, entriesOf(r), people)
	}
	seen := map[string]bool{}
	for _, e := range r.Entries {
		if seen[e.DN] {
			t.Fatalf("%s came twice", e.DN)
		}
		seen[e.DN] = true
	}

	// A cookie from another search is refused.
	paging := goldap.NewControlPaging(5)
	first, err := c.Search(goldap.NewSearchRequest(Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, []goldap.Control{paging}))
	if err != nil || len(first.Entries) != 5 {
		t.Fatalf("first page: %v", err)
	}
	cookie := goldap.FindControl(first.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging).Cookie
	if len(cookie) == 0 {
		t.Fatal("no cookie after the first of many pages")
	}
	other := goldap.NewControlPaging(5)
	other.SetCookie(cookie)
	_, err = c.Search(goldap.NewSearchRequest(Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=groupOfNames)", []string{"cn"}, []goldap.Control{other}))
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform) {
		t.Errorf("a cookie of another search: %v, want unwillingToPerform", err)
	}
}

func entriesOf(r *goldap.SearchResult) int {
	if r == nil {
		return 0
	}
	return len(r.Entries)
}

func TestDemoProtocol_WritesAreRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	c := dial(t, s)
	m := goldap.NewModifyRequest("uid="+UserImported+","+PeopleDN, nil)
	m.Replace("mail", []string{"x@example.com"})
	if err := c.Modify(m); !goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform) {
		t.Fatalf("modify: %v, want unwillingToPerform", err)
	}
	if err := c.Del(goldap.NewDelRequest("uid="+UserImported+","+PeopleDN, nil)); !goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform) {
		t.Fatalf("delete: %v, want unwillingToPerform", err)
	}
}

package slapdtest_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

func TestData_LDIF(t *testing.T) {
	d := slapdtest.NewData("")
	u := d.AddUser(slapdtest.User{UID: "zoe", CN: "Zoë, Å+B", RDN: "cn"})
	d.AddUser(slapdtest.User{UID: "bob", Mail: "bob@example.com"})
	g := d.AddGroup(slapdtest.Group{CN: "g", Members: []string{u}})
	var b bytes.Buffer
	if err := d.WriteLDIF(&b); err != nil {
		t.Fatal(err)
	}
	ldif := b.String()
	for _, want := range []string{
		"dn:: ", // unicode DNs in base64
		"dn: uid=bob,ou=people,dc=example,dc=com\n",
		"mail: bob@example.com\n",
		"memberOf: " + g + "\n",
		"entryUUID: " + slapdtest.UUID(u) + "\n",
	} {
		if !strings.Contains(ldif, want) {
			t.Errorf("LDIF lacks %q:\n%s", want, ldif)
		}
	}
	if u != `cn=Zoë\, Å\+B,ou=people,dc=example,dc=com` {
		t.Errorf("DN = %s", u)
	}
	if slapdtest.UUID(u) != slapdtest.UUID(strings.ToUpper(u)) || slapdtest.UUID(u) == slapdtest.UUID(g) {
		t.Error("UUID is not derived from the DN case-insensitively")
	}
}

func TestStart_LoadsDataAndTakesOnlineChanges(t *testing.T) {
	t.Parallel()
	d := slapdtest.NewData("dc=corp,dc=test")
	u := d.AddUser(slapdtest.User{UID: "anna", CN: "Anna, Berg", RDN: "cn"})
	g := d.AddGroup(slapdtest.Group{CN: "g", Members: []string{u}})
	s := slapdtest.Start(t, slapdtest.Options{Data: d})

	conn := s.Conn(t)
	res, err := conn.Search(goldap.NewSearchRequest(s.Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(uid=anna)", []string{"entryUUID", "memberOf"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search: %v, %v", res, err)
	}
	if got := res.Entries[0].GetAttributeValue("entryUUID"); got != slapdtest.UUID(u) {
		t.Errorf("entryUUID = %s, want %s", got, slapdtest.UUID(u))
	}
	if got := res.Entries[0].GetAttributeValue("memberOf"); got != g {
		t.Errorf("memberOf = %q, want %q", got, g)
	}

	// Online adds go through the memberof overlay.
	s.Add(t, "uid=late,"+d.PeopleDN(), map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"late"}, "cn": {"Late"}, "sn": {"L"}})
	s.Add(t, "cn=late-group,"+d.GroupsDN(), map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"late-group"}, "member": {"uid=late," + d.PeopleDN()}})
	res, err = conn.Search(goldap.NewSearchRequest(s.Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(uid=late)", []string{"memberOf"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("memberOf") != "cn=late-group,"+d.GroupsDN() {
		t.Errorf("memberOf after online add: %v, %v", res, err)
	}

	// Config binds as the service account.
	dir, err := ldap.Open(context.Background(), s.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	var n int
	if err := dir.Search(context.Background(), "*", func(directory.Entry) error { n++; return nil }); err != nil || n != 4 {
		t.Errorf("search through Config: %d entries, %v", n, err)
	}
}

func TestStart_KillEndsTheServer(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{})
	s.Kill()
	if _, err := goldap.DialURL(s.URL); err == nil {
		t.Error("the server still answers after Kill")
	}
	s.Stop() // twice is fine
}

func TestStart_PauseFreezesAndResumeThaws(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{})
	t.Cleanup(func() { _ = s.Resume() })
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	conn, err := goldap.DialURL(s.URL) // the kernel still accepts
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetTimeout(300 * time.Millisecond)
	if err := conn.Bind(s.BindDN, s.BindPassword); err == nil {
		t.Error("a paused server answered a bind")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	again, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	again.SetTimeout(5 * time.Second)
	if err := again.Bind(s.BindDN, s.BindPassword); err != nil {
		t.Errorf("bind after Resume: %v", err)
	}
	// Stop ends a paused server too, without waiting for SIGKILL.
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Stop()
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Stop of a paused server took %s", took)
	}
	if err := s.Pause(); err == nil {
		t.Error("Pause of a stopped server succeeded")
	}
}

func TestProxy_AnswersInRanges(t *testing.T) {
	t.Parallel()
	d := slapdtest.NewData("")
	members := d.AddUsers(40, "m", "")
	g := d.AddGroup(slapdtest.Group{CN: "g", Members: members})
	s := slapdtest.Start(t, slapdtest.Options{Data: d})
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{MaxValues: 15})
	conn, err := goldap.DialURL(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read := func(attrs ...string) *goldap.Entry {
		res, err := conn.Search(goldap.NewSearchRequest(g, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", attrs, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %v: %v", attrs, err)
		}
		return res.Entries[0]
	}
	check := func(e *goldap.Entry, name string, n int) {
		t.Helper()
		if len(e.Attributes) != 1 || e.Attributes[0].Name != name || len(e.Attributes[0].Values) != n {
			for _, a := range e.Attributes {
				t.Logf("%s: %d values", a.Name, len(a.Values))
			}
			t.Errorf("want %s with %d values", name, n)
		}
	}
	check(read("member"), "member;range=0-14", 15)
	check(read("member", "member;range=0-1499"), "member;range=0-14", 15)
	check(read("member;range=15-29"), "member;range=15-29", 15)
	check(read("member;range=30-*"), "member;range=30-*", 10)
	check(read("member;range=30-44"), "member;range=30-*", 10)
}

// A test of another package starts a server with a few people and a
// group, and points an LDAP directory at it.
func ExampleStart() {
	var t testing.TB // the test's *testing.T
	data := slapdtest.NewData("")
	anna := data.AddUser(slapdtest.User{UID: "anna", GivenName: "Anna", SN: "Berg", Mail: "anna@example.com"})
	data.AddUsers(500, "user", "") // user000000 … user000499
	data.AddGroup(slapdtest.Group{CN: "analysts", Members: []string{anna}})
	s := slapdtest.Start(t, slapdtest.Options{Data: data, TLS: true})

	cfg := s.Config() // StartTLS with s.CAFile, bound as s.BindDN
	dir, err := ldap.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	_ = slapdtest.UUID(anna) // anna's entryUUID, her external ID
}

func TestStart_SyncProvOffersTheSyncControlAndAContextCSN(t *testing.T) {
	t.Parallel()
	d := slapdtest.NewData("")
	d.AddUsers(3, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: d, SyncProv: &slapdtest.SyncProv{SessionLog: 10, ReloadHint: true}})
	conn := s.Conn(t)
	res, err := conn.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"supportedControl"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("root DSE: %v, %v", res, err)
	}
	if ctl := res.Entries[0].GetAttributeValues("supportedControl"); !slices.Contains(ctl, goldap.ControlTypeSyncRequest) {
		t.Errorf("supportedControl = %v, want the Sync Request control %s", ctl, goldap.ControlTypeSyncRequest)
	}
	// slapadd -w wrote the contextCSN that cookies are made of.
	res, err = conn.Search(goldap.NewSearchRequest(s.Suffix, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"contextCSN"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("contextCSN") == "" {
		t.Fatalf("contextCSN of %s: %v, %v", s.Suffix, res, err)
	}
	before := res.Entries[0].GetAttributeValue("contextCSN")
	s.Modify(t, "uid=u000001,"+d.PeopleDN(), func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"new@example.com"}) })
	s.Delete(t, "uid=u000002,"+d.PeopleDN())
	res, err = conn.Search(goldap.NewSearchRequest(s.Suffix, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"contextCSN"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("contextCSN") <= before {
		t.Errorf("contextCSN after two writes: %v (before: %s), %v", res, before, err)
	}

	// Without the option the control is not offered.
	plain := slapdtest.Start(t, slapdtest.Options{})
	res, err = plain.Conn(t).Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"supportedControl"}, nil))
	if err != nil || len(res.Entries) != 1 || slices.Contains(res.Entries[0].GetAttributeValues("supportedControl"), goldap.ControlTypeSyncRequest) {
		t.Errorf("a server without syncprov: %v, %v", res, err)
	}
}

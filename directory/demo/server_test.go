package demo

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
)

// These tests drive the server with usersync's own LDAP adapter, as the
// demo does.

func TestDemoSearch_AnStarShowsTheDemoMix(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	d := openAdapter(t, adapterConfig(s))
	got := searchAll(t, d, "an*")
	want := []string{UserBlocked, GroupAnalysis, UserImported, UserNew, UserDisabled, "anisha", "antrui", "kevand"}
	slices.Sort(want)
	if names := namesOf(got); !slices.Equal(names, want) {
		t.Fatalf("an* found %q, want %q", names, want)
	}
	if len(got) > 15 {
		t.Errorf("an* found %d rows: more than fit on an 80x24 screen", len(got))
	}
	for _, e := range got {
		switch {
		case e.ExternalID == "":
			t.Errorf("%s has no external ID", e.Name)
		case e.Name == GroupAnalysis:
			if e.Type != directory.TypeGroup || e.MemberCount != 6 {
				t.Errorf("Analysis: type %s, %d members; want a group of 6", e.Type, e.MemberCount)
			}
		case e.Type != directory.TypeUser:
			t.Errorf("%s: type %s, want user", e.Name, e.Type)
		case e.Disabled != (e.Name == UserDisabled):
			t.Errorf("%s: Disabled = %v", e.Name, e.Disabled)
		case e.Email == "" || e.DisplayName == "" || e.DN == "":
			t.Errorf("%s lacks a field: %+v", e.Name, e)
		}
	}
}

func TestDemoSearch_RawFilters(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	d := openAdapter(t, adapterConfig(s))
	uids := func(keep func(Entry) bool) []string {
		var out []string
		for _, e := range sampleEntries(func(e Entry) bool { return isPerson(e) && keep(e) }) {
			out = append(out, first(e, "uid"))
		}
		slices.Sort(out)
		return out
	}
	groups := func(keep func(Entry) bool) []string {
		var out []string
		for _, e := range sampleEntries(func(e Entry) bool { return isGroup(e) && keep(e) }) {
			out = append(out, first(e, "cn"))
		}
		return out
	}
	platform := "cn=" + GroupPlatform + "," + GroupsDN
	engineering := "cn=" + GroupEngineering + "," + GroupsDN
	inGroup := func(dn string) func(Entry) bool {
		var group Entry
		for _, g := range sampleEntries(isGroup) {
			if strings.EqualFold(g.DN, dn) {
				group = g
			}
		}
		return func(e Entry) bool { return hasValue(group, "member", e.DN) }
	}
	inEngineering, inPlatform := inGroup(engineering), inGroup(platform)
	tests := []struct {
		name, filter string
		want         []string
	}{
		{"and/or/substrings", "(&(objectClass=inetOrgPerson)(|(uid=a*)(mail=*x*)))", uids(func(e Entry) bool {
			return strings.HasPrefix(strings.ToLower(first(e, "uid")), "a") || strings.Contains(first(e, "mail"), "x")
		})},
		{"equality", "(uid=andarm)", []string{"andarm"}},
		{"names and values ignore case", "(UID=ANDARM)", []string{"andarm"}},
		{"final substring", "(displayName=*strong)", uids(func(e Entry) bool { return strings.HasSuffix(first(e, "displayName"), "strong") })},
		{"several any substrings", "(cn=*an*dr*)", uids(func(e Entry) bool {
			cn := strings.ToLower(first(e, "cn"))
			i := strings.Index(cn, "an")
			return i >= 0 && strings.Contains(cn[i+2:], "dr")
		})},
		{"not", "(!(uid=*))", groups(func(Entry) bool { return true })},
		{"greater or equal compares numbers", "(employeeNumber>=1300)", uids(func(e Entry) bool { return first(e, "employeeNumber") >= "1300" })},
		{"less or equal", "(employeeNumber<=1003)", []string{"andarm", "anisha", "andbal"}},
		{"approx is equality", "(cn~=andrew armstrong)", []string{"andarm"}},
		{"accents", "(sn=Müller)", uids(func(e Entry) bool { return first(e, "sn") == "Müller" })},
		{"memberOf", "(memberOf=" + platform + ")", uids(inPlatform)},
		{"in-chain memberOf", "(memberOf:1.2.840.113556.1.4.1941:=" + engineering + ")",
			append(groups(func(e Entry) bool { return first(e, "cn") == GroupPlatform }), uids(func(e Entry) bool { return inEngineering(e) || inPlatform(e) })...)},
		{"bitwise and", "(employeeNumber:1.2.840.113556.1.4.803:=1025)", uids(func(e Entry) bool {
			n, _ := strconv.Atoi(first(e, "employeeNumber"))
			return n&1025 == 1025
		})},
		{"unknown matching rule is undefined, and so is its negation", "(!(cn:1.2.3.4:=x))", nil},
		{"disabled marker", "(pwdAccountLockedTime=000001010000Z)", []string{UserDisabled}},
		{"entryUUID", "(entryUUID=" + nameUUID("person", "andbal") + ")", []string{"andbal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := namesOf(searchAll(t, d, tt.filter))
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s\n got %d: %q\nwant %d: %q", tt.filter, len(got), got, len(want), want)
			}
		})
	}
	// The test data must make the cases above mean something.
	for _, f := range []string{"(&(objectClass=inetOrgPerson)(|(uid=a*)(mail=*x*)))", "(memberOf=" + platform + ")", "(employeeNumber>=1300)"} {
		if n := len(searchAll(t, d, f)); n < 3 {
			t.Errorf("%s matches only %d entries", f, n)
		}
	}
}

func TestDemoSearch_PlainTextCannotChangeTheFilter(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	d := openAdapter(t, adapterConfig(s))
	for _, q := range []string{"*)(uid=*", "andarm)(|(uid=*", "*)(objectClass=*))(|(uid=*", `\2a`, "an*)(!(uid=x"} {
		if got := searchAll(t, d, q); len(got) != 0 {
			t.Errorf("%q matched %d entries (%q): plain text changed the filter", q, len(got), namesOf(got))
		}
	}
	// Text with filter characters still finds what it literally says.
	if got := namesOf(searchAll(t, d, "*O'Brien*")); len(got) == 0 {
		t.Errorf("*O'Brien* found nobody")
	}
}

func TestDemoSearch_PagesThroughEveryEntry(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	cfg := adapterConfig(s)
	cfg.PageSize = 25
	d := openAdapter(t, cfg)
	before := s.Searches()
	got := searchAll(t, d, "*")
	pages := s.Searches() - before

	people, groups := len(sampleEntries(isPerson)), len(sampleEntries(isGroup))
	if len(got) != people+groups {
		t.Fatalf("* found %d entries, want %d people and %d groups", len(got), people, groups)
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[strings.ToLower(e.DN)] {
			t.Fatalf("%s came twice", e.DN)
		}
		seen[strings.ToLower(e.DN)] = true
	}
	if min := int64(people/25 + 1); pages < min {
		t.Fatalf("the search took %d requests; with pages of 25 it takes at least %d", pages, min)
	}
}

func TestDemoSearch_SizeLimitMakesTheReadIncomplete(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{SizeLimit: 40})
	cfg := adapterConfig(s)
	cfg.PageSize = 15
	d := openAdapter(t, cfg)
	n := 0
	err := d.Search(context.Background(), "*", func(directory.Entry) error { n++; return nil })
	if !errors.Is(err, directory.ErrIncomplete) || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("search past the size limit: %v, want an incomplete read naming the size limit", err)
	}
	if n != 40 {
		t.Errorf("%d entries arrived before the limit, want 40", n)
	}
	// A search within the limit is whole.
	if got := searchAll(t, d, "an*"); len(got) != 8 {
		t.Errorf("an* found %d entries under the limit, want 8", len(got))
	}
	// A group read cut short by the limit says so.
	var allStaff string
	for _, e := range searchAll(t, d, GroupAllStaff) {
		allStaff = e.ExternalID
	}
	r, err := d.ReadGroup(context.Background(), allStaff)
	switch {
	case err != nil && !errors.Is(err, directory.ErrIncomplete):
		t.Fatalf("ReadGroup(All Staff): %v", err)
	case err == nil && r.Complete():
		t.Fatalf("ReadGroup(All Staff) under a limit of 40 says it read %d members completely", len(r.Members))
	}
}

func TestDemoStartTLS_VerifiesWithTheCAFile(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	if !strings.HasPrefix(s.URL(), "ldap://127.0.0.1:") {
		t.Fatalf("URL = %s, want ldap://127.0.0.1:PORT", s.URL())
	}
	check, err := ldap.Test(context.Background(), adapterConfig(s)), error(nil)
	if err = ldap.CheckErr(check); err != nil {
		t.Fatalf("directories test with ca_file: %v", err)
	}
	var tlsDetail string
	for _, c := range check {
		if c.Step == ldap.StepTLS {
			tlsDetail = c.Detail
		}
	}
	if !strings.Contains(tlsDetail, "StartTLS") || !strings.Contains(tlsDetail, s.CAFile()) {
		t.Errorf("TLS step says %q, want StartTLS verified with %s", tlsDetail, s.CAFile())
	}

	cfg := adapterConfig(s)
	cfg.CAFile = ""
	_, err = ldap.Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "does not trust") {
		t.Fatalf("without ca_file: %v, want a certificate the machine does not trust", err)
	}
}

func TestDemoLDAPS_ServesTLSFromTheFirstByte(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{LDAPS: true})
	if !strings.HasPrefix(s.URL(), "ldaps://") || s.StartTLS() {
		t.Fatalf("URL %s, StartTLS %v: want ldaps:// without StartTLS", s.URL(), s.StartTLS())
	}
	d := openAdapter(t, adapterConfig(s))
	if got := searchAll(t, d, UserNew); len(got) != 1 {
		t.Fatalf("%s over ldaps: %d entries", UserNew, len(got))
	}
}

func TestDemoBind_RefusesWrongPasswordAndPlainText(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	binds := s.Binds()
	cfg := adapterConfig(s)
	cfg.Password = "wrong"
	if _, err := ldap.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "invalid credentials") {
		t.Fatalf("wrong password: %v, want invalid credentials", err)
	}
	cfg = adapterConfig(s)
	cfg.BindDN = "uid=andarm," + PeopleDN
	if _, err := ldap.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "invalid credentials") {
		t.Fatalf("another DN: %v, want invalid credentials", err)
	}
	cfg = adapterConfig(s)
	cfg.StartTLS, cfg.AllowInsecure = false, true
	if _, err := ldap.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "requires an encrypted connection") {
		t.Fatalf("bind without TLS: %v, want the server to require encryption", err)
	}
	if n := s.Binds() - binds; n != 3 {
		t.Errorf("the server counted %d binds, want 3", n)
	}
	// Anonymous binds are allowed, anonymous searches are not.
	cfg = adapterConfig(s)
	cfg.BindDN, cfg.Password = "", ""
	d := openAdapter(t, cfg)
	err := d.Search(context.Background(), "an*", func(directory.Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "may not search") {
		t.Fatalf("anonymous search: %v, want it refused", err)
	}
}

func TestDemoReadGroup_IsCompleteAndCorrect(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	d := openAdapter(t, adapterConfig(s))
	ids := map[string]string{}
	for _, e := range searchAll(t, d, "(objectClass=groupOfNames)") {
		ids[e.Name] = e.ExternalID
	}
	if len(ids) != 21 {
		t.Fatalf("%d groups, want 21", len(ids))
	}
	for _, name := range []string{GroupAnalysis, GroupEngineering, GroupPlatform, GroupAllStaff, "VPN Users", "Release Managers", GroupRetail} {
		t.Run(name, func(t *testing.T) {
			r, err := d.ReadGroup(context.Background(), ids[name])
			if err != nil {
				t.Fatal(err)
			}
			if !r.Complete() {
				t.Fatalf("incomplete: %s", r.Incomplete)
			}
			want := oracleMembers(t, name)
			if got := namesOf(r.Members); !slices.Equal(got, want) {
				t.Fatalf("%d members %q\nwant %d: %q", len(got), got, len(want), want)
			}
			if r.Group.Name != name || r.Group.MemberCount != len(want) {
				t.Errorf("group %q with MemberCount %d, want %q with %d", r.Group.Name, r.Group.MemberCount, name, len(want))
			}
		})
	}
	// Engineering's members include Platform's, which are not direct members.
	eng, platform := oracleMembers(t, GroupEngineering), oracleMembers(t, GroupPlatform)
	if len(platform) < 10 || !containsAll(eng, platform) {
		t.Fatalf("Platform (%d) is not nested in Engineering (%d)", len(platform), len(eng))
	}
	for _, e := range sampleEntries(isGroup) {
		if first(e, "cn") == GroupEngineering {
			for _, m := range e.Get("member") {
				if strings.HasPrefix(m, "uid=") && slices.Contains(platform, strings.TrimPrefix(strings.Split(m, ",")[0], "uid=")) {
					t.Fatalf("%s is a direct member of Engineering too: the nesting would prove nothing", m)
				}
			}
		}
	}
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func TestDemoDisabledAccount_IsReportedDisabled(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	d := openAdapter(t, adapterConfig(s))
	disabled := 0
	for _, e := range searchAll(t, d, "(objectClass=inetOrgPerson)") {
		if e.Disabled {
			disabled++
			if e.Name != UserDisabled {
				t.Errorf("%s is reported disabled", e.Name)
			}
		}
	}
	if disabled != 1 {
		t.Fatalf("%d disabled accounts, want 1 (%s)", disabled, UserDisabled)
	}
	got, err := d.LookupUsers(context.Background(), []string{nameUUID("person", UserDisabled), nameUUID("person", UserNew), "00000000-0000-5000-8000-000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[nameUUID("person", UserDisabled)].Disabled || got[nameUUID("person", UserNew)].Disabled {
		t.Fatalf("LookupUsers: %+v", got)
	}
}

func TestDemoDropConnections_AdapterReconnects(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	d := openAdapter(t, adapterConfig(s))
	searchAll(t, d, UserNew)
	// The adapter holds a session and, once it has searched, a bulk-search
	// connection besides.
	if n := s.DropConnections(); n < 1 || n > 2 {
		t.Fatalf("dropped %d connections, want the adapter's one or two", n)
	}
	time.Sleep(50 * time.Millisecond) // let the client see the connection end
	if got := searchAll(t, d, UserNew); len(got) != 1 {
		t.Fatalf("after a dropped connection: %d entries", len(got))
	}
}

func TestDemoClose_EndsConnectedClients(t *testing.T) {
	t.Parallel()
	s, err := StartLDAP(Options{})
	if err != nil {
		t.Fatal(err)
	}
	openAdapter(t, adapterConfig(s)) // stays connected
	ca := s.CAFile()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a connected client")
	}
	if _, err := ldap.Open(context.Background(), adapterConfig(s)); err == nil {
		t.Fatal("the server still answers after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(ca); err == nil {
		t.Fatalf("the CA file %s is still there after Close", ca)
	}
}

func BenchmarkSearchAnStar(b *testing.B) {
	s := startServer(b, Options{})
	d := openAdapter(b, adapterConfig(s))
	for b.Loop() {
		if n := len(searchAll(b, d, "an*")); n != 8 {
			b.Fatalf("%d entries", n)
		}
	}
}

func BenchmarkReadGroupAllStaff(b *testing.B) {
	s := startServer(b, Options{})
	d := openAdapter(b, adapterConfig(s))
	id := nameUUID("group", GroupAllStaff)
	for b.Loop() {
		r, err := d.ReadGroup(context.Background(), id)
		if err != nil || !r.Complete() {
			b.Fatal(err, r)
		}
	}
}

// Latency slows a search down by the hundreds of entries it sends: reading
// the large group Retail takes a while, a small search does not pause.
func TestDemoLatency_PacesLargeAnswers(t *testing.T) {
	t.Parallel()
	const latency = 20 * time.Millisecond
	s := startServer(t, Options{Latency: latency})
	d := openAdapter(t, adapterConfig(s))
	found := searchAll(t, d, GroupRetail)
	if len(found) != 1 || found[0].MemberCount != RetailMembers {
		t.Fatalf("search %s: %+v, want the group of %d", GroupRetail, found, RetailMembers)
	}
	start := time.Now()
	r, err := d.ReadGroup(context.Background(), found[0].ExternalID)
	took := time.Since(start)
	if err != nil || !r.Complete() || len(r.Members) != RetailMembers {
		t.Fatalf("ReadGroup(%s): %v, %+v", GroupRetail, err, r)
	}
	// One pause per hundred members at least (the memberOf search pages
	// through them).
	if least := RetailMembers / latencyEvery * latency; took < least {
		t.Errorf("reading %d members took %s, want at least %s", RetailMembers, took, least)
	}
	var names []string
	for _, m := range r.Members {
		names = append(names, m.Name)
	}
	for _, bad := range RetailBadUsernames {
		if !slices.Contains(names, bad) {
			t.Errorf("%s's members lack %q", GroupRetail, bad)
		}
	}
}

package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

func readGroup(t *testing.T, d *ldap.Directory, groupDN string) *directory.GroupRead {
	t.Helper()
	read, err := d.ReadGroup(testContext(t), slapdtest.UUID(groupDN))
	if err != nil {
		t.Fatalf("ReadGroup(%s): %v", groupDN, err)
	}
	return read
}

func memberNames(read *directory.GroupRead) []string { return names(read.Members) }

func TestReadGroup_NestedGroupsWithACycle(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	u1 := data.AddUser(slapdtest.User{UID: "u1"})
	u2 := data.AddUser(slapdtest.User{UID: "u2"})
	u3 := data.AddUser(slapdtest.User{UID: "u3"})
	u4 := data.AddUser(slapdtest.User{UID: "u4"})
	groups := data.GroupsDN()
	top := "cn=top," + groups
	a := "cn=a," + groups
	b := "cn=b," + groups
	data.AddGroup(slapdtest.Group{CN: "top", Members: []string{u1, a}})
	data.AddGroup(slapdtest.Group{CN: "a", Members: []string{u2, b}})
	data.AddGroup(slapdtest.Group{CN: "b", Members: []string{u3, u1, top, b}}) // back to top, and itself
	data.AddGroup(slapdtest.Group{CN: "other", Members: []string{u4}})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())

	read := readGroup(t, d, top)
	if !read.Complete() {
		t.Errorf("Incomplete = %q", read.Incomplete)
	}
	if got, want := memberNames(read), []string{"u1", "u2", "u3"}; !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v (users only, each once)", got, want)
	}
	if read.Group.Name != "top" || read.Group.ExternalID != slapdtest.UUID(top) || read.Group.MemberCount != 3 {
		t.Errorf("group = %+v", read.Group)
	}
	if got, want := sortedIDs(read.Nested), sortedIDs([]string{slapdtest.UUID(a), slapdtest.UUID(b)}); !slices.Equal(got, want) {
		t.Errorf("Nested = %v, want a and b %v", got, want)
	}
	// The cycle read from inside.
	inside := readGroup(t, d, b)
	if got, want := memberNames(inside), []string{"u1", "u2", "u3"}; !slices.Equal(got, want) {
		t.Errorf("members of b = %v, want %v", got, want)
	}
	if got, want := sortedIDs(inside.Nested), sortedIDs([]string{slapdtest.UUID(top), slapdtest.UUID(a)}); !slices.Equal(got, want) {
		t.Errorf("Nested of b = %v, want top and a %v (never b itself)", got, want)
	}
	if other := readGroup(t, d, "cn=other,"+groups); len(other.Nested) != 0 {
		t.Errorf("Nested of a group of users = %v", other.Nested)
	}
}

// Nested is filled however the members were resolved: by memberOf (a
// large group on a server with the overlay) or by RDN (without it).
func TestReadGroup_NestedListsTheGroupsWalked(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	users := data.AddUsers(150, "u", "")
	deep := data.AddGroup(slapdtest.Group{CN: "deep", Members: users[140:]})
	mid := data.AddGroup(slapdtest.Group{CN: "mid", Members: []string{users[0], deep}})
	big := data.AddGroup(slapdtest.Group{CN: "big", Members: append(slices.Clone(users[:140]), mid)})
	want := sortedIDs([]string{slapdtest.UUID(mid), slapdtest.UUID(deep)})
	for _, noMemberOf := range []bool{false, true} {
		s := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: noMemberOf})
		read := readGroup(t, open(t, s.Config()), big)
		if len(read.Members) != 150 || !read.Complete() {
			t.Errorf("NoMemberOf=%v: %d members, Incomplete %q", noMemberOf, len(read.Members), read.Incomplete)
		}
		if got := sortedIDs(read.Nested); !slices.Equal(got, want) {
			t.Errorf("NoMemberOf=%v: Nested = %v, want mid and deep %v", noMemberOf, got, want)
		}
	}
}

func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestReadGroup_EscapedAndUnicodeDNsSpelledDifferently(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUser(slapdtest.User{UID: "yperez", CN: "Perez, Yusuf", RDN: "cn"})
	data.AddUser(slapdtest.User{UID: "smithjones", CN: "Smith+Jones", RDN: "cn"})
	data.AddUser(slapdtest.User{UID: "zoe", CN: "Zoë Ångström", RDN: "cn"})
	data.AddUser(slapdtest.User{UID: "quote", CN: `Say "hi"; <ok>`, RDN: "cn"})
	people := data.PeopleDN()
	g := data.AddGroup(slapdtest.Group{CN: "Sales, EMEA", Members: []string{
		`cn=Perez\, Yusuf,` + people,                      // as written
		`CN=PEREZ\2C YUSUF,OU=People,DC=example,DC=com`,   // the same, hex-escaped and upper case
		`cn=Smith\2BJones,` + people,                      // plus sign, hex
		`cn=Zo\C3\AB \C3\85ngstr\C3\B6m,` + people,        // unicode, hex
		`cn=Say \"hi\"\; \<ok\>,` + people,                // quotes and friends
		`cn=Perez\, Yusuf,ou=elsewhere,dc=example,dc=com`, // same RDN, another place: nobody
	}})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	read := readGroup(t, d, g)
	if got, want := memberNames(read), []string{"quote", "smithjones", "yperez", "zoe"}; !slices.Equal(got, want) || !read.Complete() {
		t.Errorf("members = %v (incomplete %q), want %v", got, read.Incomplete, want)
	}
	if read.Group.Name != "Sales, EMEA" {
		t.Errorf("group name = %q", read.Group.Name)
	}
}

// bigGroupData is a group of n users, nested with a small group, plus
// users outside it.
func bigGroupData(n int) (*slapdtest.Data, string) {
	data := slapdtest.NewData("")
	members := data.AddUsers(n, "m", "")
	data.AddUsers(50, "outsider", "")
	extra := data.AddUser(slapdtest.User{UID: "nested1"})
	nested := data.AddGroup(slapdtest.Group{CN: "nested", Members: []string{extra, members[0]}})
	big := data.AddGroup(slapdtest.Group{CN: "big", Members: append(members, nested)})
	return data, big
}

func checkBig(t *testing.T, read *directory.GroupRead, n int) {
	t.Helper()
	if !read.Complete() {
		t.Fatalf("Incomplete = %q", read.Incomplete)
	}
	if len(read.Members) != n+1 {
		t.Fatalf("%d members, want %d", len(read.Members), n+1)
	}
	seen := map[string]bool{}
	for _, m := range read.Members {
		if seen[m.ExternalID] || m.ExternalID == "" || strings.HasPrefix(m.Name, "outsider") {
			t.Fatalf("bad or repeated member %+v", m)
		}
		seen[m.ExternalID] = true
	}
}

func TestReadGroup_MoreThan1500Members(t *testing.T) {
	t.Parallel()
	const n = 3210
	data, big := bigGroupData(n)
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	// slapd sends member whole: the plain answer is taken whole.
	checkBig(t, readGroup(t, open(t, s.Config()), big), n)
}

func TestReadGroup_MoreThan1500MembersWithoutMemberOf(t *testing.T) {
	t.Parallel()
	const n = 1700
	data, big := bigGroupData(n)
	s := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: true})
	checkBig(t, readGroup(t, open(t, s.Config()), big), n)
}

func TestReadGroup_MemberRangesAsActiveDirectorySendsThem(t *testing.T) {
	t.Parallel()
	const n = 3210
	data, big := bigGroupData(n)
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	for _, maxValues := range []int{1500, 1000, 700} {
		p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{MaxValues: maxValues})
		cfg := s.Config()
		cfg.URL = p.URL
		d := open(t, cfg)
		t.Run(fmt.Sprint(maxValues), func(t *testing.T) {
			checkBig(t, readGroup(t, d, big), n)
			// Search reports an unknown count for a ranged member.
			got := search(t, d, "big")
			if len(got) != 1 || got[0].MemberCount != -1 {
				t.Errorf("search big = %+v, want MemberCount -1", got)
			}
		})
	}
}

func TestReadGroup_ARangeThatStopsEarlyIsIncomplete(t *testing.T) {
	t.Parallel()
	const n = 3210
	data, big := bigGroupData(n)
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{MaxValues: 1500, StopRangesAt: 3000})
	cfg := s.Config()
	cfg.URL = p.URL
	read, err := open(t, cfg).ReadGroup(testContext(t), slapdtest.UUID(big))
	if err != nil {
		if !errors.Is(err, directory.ErrIncomplete) {
			t.Fatalf("err = %v, want an incomplete read", err)
		}
		return
	}
	if read.Complete() || !strings.Contains(read.Incomplete, "stopped after 3000 values") {
		t.Errorf("Incomplete = %q with %d members, want the ranged read named as unfinished", read.Incomplete, len(read.Members))
	}
	if read.Group.MemberCount != -1 {
		t.Errorf("MemberCount = %d for an incomplete read, want -1", read.Group.MemberCount)
	}
}

func TestReadGroup_ConnectionLostMidwayIsNeverComplete(t *testing.T) {
	t.Parallel()
	const n = 2500
	data, big := bigGroupData(n)
	s := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: true})
	for _, cut := range []int{1, 3, 150, 1200} {
		p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
		cfg := s.Config()
		cfg.URL = p.URL
		d := open(t, cfg)
		p.CutAfterEntries(cut)
		read, err := d.ReadGroup(testContext(t), slapdtest.UUID(big))
		switch {
		case err != nil && !errors.Is(err, directory.ErrIncomplete):
			t.Errorf("cut after %d: err = %v, want ErrIncomplete", cut, err)
		case err == nil && read.Complete():
			t.Errorf("cut after %d: a complete read of %d members", cut, len(read.Members))
		case err == nil:
			t.Logf("cut after %d: %d members, incomplete: %s", cut, len(read.Members), read.Incomplete)
		}
		// The next call reconnects.
		p.CutAfterEntries(0)
		checkBig(t, readGroup(t, d, big), n)
	}
}

func TestReadGroup_ServerKilledMidwayIsIncomplete(t *testing.T) {
	t.Parallel()
	const n = 4000
	data, big := bigGroupData(n)
	s := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: true})
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
	p.OnEntry(func(count int) {
		if count == 300 {
			s.Kill()
		}
	})
	cfg := s.Config()
	cfg.URL = p.URL
	read, err := open(t, cfg).ReadGroup(testContext(t), slapdtest.UUID(big))
	switch {
	case err != nil && !errors.Is(err, directory.ErrIncomplete):
		t.Errorf("err = %v, want ErrIncomplete", err)
	case err == nil && read.Complete():
		t.Errorf("a complete read of %d members from a killed server", len(read.Members))
	case err == nil:
		t.Logf("%d members, incomplete: %s", len(read.Members), read.Incomplete)
	}
}

func TestReadGroup_SizeLimitIsIncomplete(t *testing.T) {
	t.Parallel()
	data, big := bigGroupData(300)
	s := slapdtest.Start(t, slapdtest.Options{Data: data, SizeLimit: 120})
	read := readGroup(t, open(t, s.Config()), big)
	if read.Complete() || !strings.Contains(read.Incomplete, "size limit") {
		t.Errorf("Incomplete = %q with %d members, want the size limit named", read.Incomplete, len(read.Members))
	}
}

func TestReadGroup_AReferralThatMayHoldMembersIsIncomplete(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	u1 := data.AddUser(slapdtest.User{UID: "u1"})
	data.AddEntry("ou=branch,"+data.Suffix(), map[string][]string{
		"objectClass": {"referral", "extensibleObject"},
		"ou":          {"branch"},
		"ref":         {"ldap://branch.example.com/ou=branch,dc=example,dc=com"},
	})
	g := data.AddGroup(slapdtest.Group{CN: "g", Members: []string{u1, "uid=far,ou=branch," + data.Suffix()}})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	read := readGroup(t, open(t, s.Config()), g)
	if read.Complete() || !strings.Contains(read.Incomplete, "branch.example.com") {
		t.Errorf("Incomplete = %q, want the referral named", read.Incomplete)
	}
	if got := memberNames(read); !slices.Equal(got, []string{"u1"}) {
		t.Errorf("members = %v", got)
	}
}

func TestReadGroup_PosixAndUniqueMemberGroups(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	u1 := data.AddUser(slapdtest.User{UID: "u1"})
	u2 := data.AddUser(slapdtest.User{UID: "u2"})
	data.AddUser(slapdtest.User{UID: "u3"})
	posix := data.AddGroup(slapdtest.Group{CN: "staff", Class: "posixGroup", MemberUIDs: []string{"u2", "u3", "ghost"}})
	unique := data.AddGroup(slapdtest.Group{CN: "admins", Class: "groupOfUniqueNames", Members: []string{u1, u2}})
	empty := data.AddGroup(slapdtest.Group{CN: "empty"})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	for dn, want := range map[string][]string{posix: {"u2", "u3"}, unique: {"u1", "u2"}, empty: {}} {
		read := readGroup(t, d, dn)
		if got := memberNames(read); !slices.Equal(got, want) || !read.Complete() {
			t.Errorf("%s: members = %v (incomplete %q), want %v", dn, got, read.Incomplete, want)
		}
	}
	got := search(t, d, "staff")
	if len(got) != 1 || got[0].MemberCount != 3 {
		t.Errorf("staff = %+v, want MemberCount 3", got)
	}
	if got := search(t, d, "empty"); len(got) != 1 || got[0].MemberCount != 0 {
		t.Errorf("empty = %+v, want MemberCount 0", got)
	}
}

func TestReadGroup_MembersAddedOnlineThroughTheOverlay(t *testing.T) {
	t.Parallel()
	data, big := bigGroupData(150)
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	late := "uid=late," + data.PeopleDN()
	s.Add(t, late, map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {"late"}, "cn": {"Late"}, "sn": {"Comer"},
	})
	conn := s.Conn(t)
	if err := conn.Modify(modifyAdd(big, "member", late)); err != nil {
		t.Fatal(err)
	}
	read := readGroup(t, open(t, s.Config()), big)
	if _, ok := byName(read.Members, "late"); !ok || !read.Complete() || len(read.Members) != 152 {
		t.Errorf("%d members, late present: %v, incomplete %q", len(read.Members), ok, read.Incomplete)
	}
}

func TestReadGroup_NotFoundAndBadIDs(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	u := data.AddUser(slapdtest.User{UID: "u"})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	if _, err := d.ReadGroup(testContext(t), "00000000-0000-0000-0000-000000000000"); err == nil || !strings.Contains(err.Error(), "no group") {
		t.Errorf("missing group: err = %v", err)
	}
	if _, err := d.ReadGroup(testContext(t), slapdtest.UUID(u)); err == nil {
		t.Error("a user's ID read as a group")
	}
	if _, err := d.ReadGroup(testContext(t), "*)(cn=*"); err == nil || errors.Is(err, directory.ErrIncomplete) {
		t.Errorf("an ID with filter syntax: err = %v, want not found", err)
	}
}

func TestReadGroup_Cancelled(t *testing.T) {
	t.Parallel()
	data, big := bigGroupData(500)
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	_, err := d.ReadGroup(ctx, slapdtest.UUID(big))
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestLookupUsers_FoundAbsentAndBatched(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	dns := data.AddUsers(250, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	var ids []string
	for _, dn := range dns {
		ids = append(ids, slapdtest.UUID(dn))
	}
	gone := "6f1c3a1e-0000-5000-8000-000000000001"
	upper := strings.ToUpper(ids[7])
	got, err := d.LookupUsers(testContext(t), append(ids, gone, upper, ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 251 {
		t.Errorf("%d found, want 250 + the upper-case spelling", len(got))
	}
	if _, ok := got[gone]; ok {
		t.Error("an unknown ID was found")
	}
	if got[upper].Name != "u000007" || got[ids[42]].Name != "u000042" {
		t.Errorf("got[upper] = %+v, got[42] = %+v", got[upper], got[ids[42]])
	}
	empty, err := d.LookupUsers(testContext(t), nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("LookupUsers(nil) = %v, %v", empty, err)
	}
}

func TestLookupUsers_AnyErrorConcludesNothing(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	dns := data.AddUsers(400, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
	cfg := s.Config()
	cfg.URL = p.URL
	d := open(t, cfg)
	var ids []string
	for _, dn := range dns {
		ids = append(ids, slapdtest.UUID(dn))
	}
	p.CutAfterEntries(150)
	got, err := d.LookupUsers(testContext(t), ids)
	if err == nil || got != nil {
		t.Errorf("LookupUsers over a cut connection = %d users, %v; want no map and an error", len(got), err)
	}
}

func modifyAdd(dn, attr, value string) *goldap.ModifyRequest {
	req := goldap.NewModifyRequest(dn, nil)
	req.Add(attr, []string{value})
	return req
}

package ldap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// feedConfig is the server's config with the disabled marker that slapd
// can hold without the ppolicy schema (employeeType: TRUE).
func feedConfig(s *slapdtest.Server) ldap.Config {
	cfg := s.Config()
	cfg.Attributes.Disabled = "employeeType"
	return cfg
}

func feedCookie(t testing.TB, d *ldap.Directory) []byte {
	t.Helper()
	c, err := d.FeedCookie(testContext(t))
	if err != nil {
		t.Fatalf("FeedCookie: %v", err)
	}
	return c
}

func changes(t testing.TB, d *ldap.Directory, cookie []byte) *directory.Changes {
	t.Helper()
	ch, err := d.Changes(testContext(t), cookie)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	return ch
}

func entryIDs(entries []directory.Entry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.ExternalID)
	}
	slices.Sort(out)
	return out
}

func uuids(dns ...string) []string {
	out := make([]string, 0, len(dns))
	for _, dn := range dns {
		out = append(out, slapdtest.UUID(dn))
	}
	slices.Sort(out)
	return out
}

func setOf(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func byID(entries []directory.Entry, id string) (directory.Entry, bool) {
	for _, e := range entries {
		if e.ExternalID == id {
			return e, true
		}
	}
	return directory.Entry{}, false
}

// feedFixture is a directory of n users and a few groups: staff (10 users
// and the nested group team), team (3 users), other (10 users), posix
// (posixGroup, memberUid).
type feedFixture struct {
	data                      *slapdtest.Data
	users                     []string
	staff, team, other, posix string
}

func newFeedFixture(n int) *feedFixture {
	f := &feedFixture{data: slapdtest.NewData("")}
	f.users = f.data.AddUsers(n, "u", "")
	f.team = f.data.AddGroup(slapdtest.Group{CN: "team", Members: f.users[10:13]})
	f.staff = f.data.AddGroup(slapdtest.Group{CN: "staff", Members: append(slices.Clone(f.users[0:10]), f.team)})
	f.other = f.data.AddGroup(slapdtest.Group{CN: "other", Members: f.users[20:30]})
	f.posix = f.data.AddGroup(slapdtest.Group{CN: "posix", Class: "posixGroup", MemberUIDs: []string{"u000005", "u000006"}})
	return f
}

// change makes the changes every feed test looks for, online: a mail
// changed, a user disabled, a user added to and another removed from
// staff, a user deleted (a member of other: refint removes it there), a
// new group, a user added to team (nested in staff), and a memberUid
// added to posix. It returns the new group's entryUUID (slapd makes it).
func (f *feedFixture) change(t *testing.T, s *slapdtest.Server) string {
	t.Helper()
	u := f.users
	s.Modify(t, u[1], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"renamed@example.com"}) })
	s.Modify(t, u[2], func(m *goldap.ModifyRequest) { m.Replace("employeeType", []string{"TRUE"}) })
	s.Modify(t, f.staff, func(m *goldap.ModifyRequest) { m.Add("member", []string{u[100]}) })
	s.Modify(t, f.staff, func(m *goldap.ModifyRequest) { m.Delete("member", []string{u[3]}) })
	s.Delete(t, u[25])
	newGroup := "cn=newgroup," + f.data.GroupsDN()
	s.Add(t, newGroup, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"newgroup"}, "member": {u[200], u[201]}})
	s.Modify(t, f.team, func(m *goldap.ModifyRequest) { m.Add("member", []string{u[300]}) })
	s.Modify(t, f.posix, func(m *goldap.ModifyRequest) { m.Add("memberUid", []string{"u000007"}) })
	res, err := s.Conn(t).Search(goldap.NewSearchRequest(newGroup, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("entryUUID of %s: %v", newGroup, err)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

// wantChanges checks that ch holds exactly what change made.
func (f *feedFixture) wantChanges(t *testing.T, ch *directory.Changes, newGroup string) {
	t.Helper()
	u := f.users
	if got, want := entryIDs(ch.Entries), sortedIDs(append(uuids(u[1], u[2], f.staff, f.team, f.posix), newGroup)); !slices.Equal(got, want) {
		t.Errorf("Entries = %v\nwant      %v (u1, u2, staff, newgroup, team, posix)", got, want)
	}
	if e, _ := byID(ch.Entries, slapdtest.UUID(u[1])); e.Email != "renamed@example.com" || e.Type != directory.TypeUser || e.Name != "u000001" {
		t.Errorf("u1 = %+v, want the new mail", e)
	}
	if e, _ := byID(ch.Entries, slapdtest.UUID(u[2])); !e.Disabled {
		t.Errorf("u2 = %+v, want Disabled", e)
	}
	if e, _ := byID(ch.Entries, newGroup); e.Type != directory.TypeGroup || e.Name != "newgroup" || e.MemberCount != 2 {
		t.Errorf("newgroup = %+v", e)
	}
	wantMembers := map[string][]string{
		slapdtest.UUID(f.staff): uuids(append(slices.Concat(u[0:3], u[4:10]), u[100], f.team)...),
		newGroup:                uuids(u[200], u[201]),
		slapdtest.UUID(f.team):  uuids(u[10], u[11], u[12], u[300]),
		slapdtest.UUID(f.posix): uuids(u[5], u[6], u[7]),
	}
	if len(ch.Members) != len(wantMembers) {
		t.Errorf("Members has %d groups, want %d: %v", len(ch.Members), len(wantMembers), ch.Members)
	}
	for g, want := range wantMembers {
		if got := sortedIDs(ch.Members[g]); !slices.Equal(got, want) {
			t.Errorf("Members[%s] = %v\nwant %v", g, got, want)
		}
	}
	if _, ok := byID(ch.Entries, slapdtest.UUID(f.other)); ok {
		t.Log("note: other, from which refint removed the deleted user, was reported changed")
	}
}

// The feed with a session log: exactly what changed, deletions by ID, a
// handful of reads among 10,000 users, and nothing the second time. Two
// configurations read the same server: one base for all, and users and
// groups under their own bases (then slapd's "deletions" of the other
// part's changed entries are dropped by the check).
func TestChanges_ReturnsExactlyWhatChanged(t *testing.T) {
	t.Parallel()
	f := newFeedFixture(10_000)
	s := slapdtest.Start(t, slapdtest.Options{Data: f.data, SyncProv: &slapdtest.SyncProv{SessionLog: 1000}})
	one := feedConfig(s)
	split := feedConfig(s)
	split.UserBaseDN, split.GroupBaseDN = f.data.PeopleDN(), f.data.GroupsDN()
	dirs := map[string]*ldap.Directory{"one base": open(t, one), "two bases": open(t, split)}
	cookies := map[string][]byte{}
	for name, d := range dirs {
		start := time.Now()
		cookies[name] = feedCookie(t, d)
		t.Logf("%s: FeedCookie over 10,000 users took %s", name, time.Since(start).Round(time.Millisecond))
	}

	newGroup := f.change(t, s)

	for _, name := range slices.Sorted(maps.Keys(dirs)) {
		t.Run(name, func(t *testing.T) {
			d := dirs[name]
			start := time.Now()
			ch := changes(t, d, cookies[name])
			t.Logf("Changes: %d entries, %d deleted, %d reads, %s", len(ch.Entries), len(ch.Deleted), ch.Reads, time.Since(start).Round(time.Millisecond))
			f.wantChanges(t, ch, newGroup)
			if got, want := ch.Deleted, uuids(f.users[25]); !slices.Equal(got, want) {
				t.Errorf("Deleted = %v, want only u25 %v", got, want)
			}
			if ch.Present != nil {
				t.Errorf("a present set of %d IDs where the session log holds every change", len(ch.Present))
			}
			// 6 entries, the deleted ID (and the other part's changed
			// entries, as slapd reports them), and 13 members looked up.
			if ch.Reads > 60 {
				t.Errorf("Reads = %d for 8 changes among 10,000 users, want O(changes)", ch.Reads)
			}
			if bytes.Equal(ch.Cookie, cookies[name]) {
				t.Error("the cookie did not move")
			}

			again := changes(t, d, ch.Cookie)
			if len(again.Entries)+len(again.Deleted)+len(again.Members) != 0 || again.Present != nil {
				t.Errorf("the new cookie again: %d entries, %v deleted, %d member lists, present %v; want nothing", len(again.Entries), again.Deleted, len(again.Members), again.Present != nil)
			}
			if again.Reads != 0 {
				t.Errorf("the new cookie again: Reads = %d, want 0", again.Reads)
			}
			// The old cookie still replays the same changes.
			f.wantChanges(t, changes(t, d, cookies[name]), newGroup)
		})
	}

	// What refint does: the deleted user left other, and other's change
	// sequence number did not move — the feed never reports other, which
	// is why a caller removes deleted IDs from the groups it holds.
	read := readGroup(t, dirs["one base"], f.other)
	if _, ok := byName(read.Members, "u000025"); ok || len(read.Members) != 9 {
		t.Errorf("other after deleting u25: %v, want 9 members without it", memberNames(read))
	}
	for name := range dirs {
		if ch := changes(t, dirs[name], cookies[name]); slices.Contains(entryIDs(ch.Entries), slapdtest.UUID(f.other)) {
			t.Errorf("%s: other was reported changed: refint's removal now marks groups (update testing.md and the Deleted doc)", name)
		}
	}
}

// A renamed user keeps its entryUUID: the feed sends it with its new DN
// and name; refint rewrites the member values of its groups without
// touching them, and since members are named by ID nothing is lost.
func TestChanges_RenamedUserKeepsItsID(t *testing.T) {
	t.Parallel()
	f := newFeedFixture(50)
	s := slapdtest.Start(t, slapdtest.Options{Data: f.data, SyncProv: &slapdtest.SyncProv{SessionLog: 100}})
	d := open(t, feedConfig(s))
	cookie := feedCookie(t, d)
	if err := s.Conn(t).ModifyDN(goldap.NewModifyDNRequest(f.users[4], "uid=renamed", true, "")); err != nil {
		t.Fatal(err)
	}
	ch := changes(t, d, cookie)
	if got, want := entryIDs(ch.Entries), uuids(f.users[4]); !slices.Equal(got, want) {
		t.Fatalf("Entries = %v, want only the renamed user %v", got, want)
	}
	if e := ch.Entries[0]; e.Name != "renamed" || !strings.HasPrefix(e.DN, "uid=renamed,") {
		t.Errorf("renamed user = %+v", e)
	}
	if len(ch.Deleted) != 0 || ch.Present != nil {
		t.Errorf("a rename deleted %v (present %v)", ch.Deleted, ch.Present != nil)
	}
	// refint followed the rename in staff, which the feed does not report.
	read := readGroup(t, d, f.staff)
	if _, ok := byName(read.Members, "renamed"); !ok {
		t.Errorf("staff after the rename: %v", memberNames(read))
	}
}

// The members of a large changed group are looked up by memberOf where the
// server keeps it, by RDN otherwise; either way member values are the
// truth (a stale memberOf naming a non-member is ignored), and members
// outside the bases or naming nothing are left out, as ReadGroup leaves
// them.
func TestChanges_MembersOfALargeGroup(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	users := data.AddUsers(400, "u", "")
	elsewhere := data.AddUser(slapdtest.User{UID: "outside", Parent: data.OU("elsewhere")})
	dangling := "uid=nobody," + data.PeopleDN()
	big := data.AddGroup(slapdtest.Group{CN: "big", Members: append(slices.Clone(users[:250]), elsewhere, dangling)})
	for _, noMemberOf := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoMemberOf=%v", noMemberOf), func(t *testing.T) {
			s := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: noMemberOf, SyncProv: &slapdtest.SyncProv{SessionLog: 100}})
			cfg := feedConfig(s)
			cfg.UserBaseDN, cfg.GroupBaseDN = data.PeopleDN(), data.GroupsDN()
			d := open(t, cfg)
			cookie := feedCookie(t, d)
			s.Modify(t, big, func(m *goldap.ModifyRequest) { m.Add("member", []string{users[300]}) })
			ch := changes(t, d, cookie)
			want := uuids(append(slices.Clone(users[:250]), users[300])...)
			if got := sortedIDs(ch.Members[slapdtest.UUID(big)]); !slices.Equal(got, want) {
				t.Errorf("members of big: %d IDs, want %d (users only, not outside the base nor dangling)", len(got), len(want))
			}
			if read := readGroup(t, d, big); len(read.Members) != len(want) {
				t.Errorf("ReadGroup finds %d members, Changes %d", len(read.Members), len(want))
			}
			t.Logf("%d reads", ch.Reads)
		})
	}
}

// Without a session log slapd answers a cookie with a present phase: the
// IDs of every entry in scope, the changed ones whole. Deletions are what
// the caller holds and is not present.
func TestChanges_PresentPhaseWithoutASessionLog(t *testing.T) {
	t.Parallel()
	f := newFeedFixture(400)
	s := slapdtest.Start(t, slapdtest.Options{Data: f.data, SyncProv: &slapdtest.SyncProv{}})
	d := open(t, feedConfig(s))
	cookie := feedCookie(t, d)
	newGroup := f.change(t, s)

	ch := changes(t, d, cookie)
	f.wantChanges(t, ch, newGroup)
	if len(ch.Deleted) != 0 {
		t.Errorf("Deleted = %v, want none (a present phase)", ch.Deleted)
	}
	want := setOf(uuids(f.users...))
	delete(want, slapdtest.UUID(f.users[25]))
	for _, g := range []string{f.staff, f.team, f.other, f.posix} {
		want[slapdtest.UUID(g)] = true
	}
	want[newGroup] = true
	if !maps.Equal(ch.Present, want) {
		t.Errorf("Present has %d IDs, want %d: every user and group but u25", len(ch.Present), len(want))
	}
	if ch.Reads < len(want) {
		t.Errorf("Reads = %d, want at least the %d present IDs", ch.Reads, len(want))
	}
	t.Logf("present phase: %d present, %d entries, %d reads", len(ch.Present), len(ch.Entries), ch.Reads)

	again := changes(t, d, ch.Cookie)
	if len(again.Entries) != 0 || again.Present != nil || again.Reads != 0 {
		t.Errorf("the new cookie again: %d entries, present %v, %d reads; want nothing", len(again.Entries), again.Present != nil, again.Reads)
	}
}

// A session log shorter than the writes since the cookie: slapd falls
// back to a present phase rather than refusing the cookie.
func TestChanges_SessionLogExceededFallsBackToAPresentPhase(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	users := data.AddUsers(50, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 5, ReloadHint: true}})
	d := open(t, feedConfig(s))
	cookie := feedCookie(t, d)
	for i := range 3 {
		s.Modify(t, users[i], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{fmt.Sprintf("m%d@example.com", i)}) })
	}
	s.Delete(t, users[49])
	within := changes(t, d, cookie)
	if within.Present != nil || !slices.Equal(within.Deleted, uuids(users[49])) {
		t.Errorf("4 writes within a log of 5: present %v, deleted %v; want deletions", within.Present != nil, within.Deleted)
	}
	for i := 3; i < 10; i++ {
		s.Modify(t, users[i], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{fmt.Sprintf("m%d@example.com", i)}) })
	}
	ch := changes(t, d, cookie)
	if ch.Present == nil {
		t.Fatalf("11 writes past a session log of 5: no present phase (deleted %v)", ch.Deleted)
	}
	if len(ch.Present) != 49 || ch.Present[slapdtest.UUID(users[49])] || len(ch.Entries) != 10 {
		t.Errorf("present phase: %d present (want 49, without u49), %d entries (want 10)", len(ch.Present), len(ch.Entries))
	}
}

// A cookie from another server: older than every entry there (with
// olcSpReloadHint: refused; without: slapd reloads everything as a
// present phase), or newer than the server's state (refused).
func TestChanges_CookieFromAnotherServer(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(30, "u", "")
	a := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 100, ReloadHint: true}})
	fromA := feedCookie(t, open(t, feedConfig(a)))
	// slapd looks for the cookie's CSN in the database to the second: a
	// cookie from the same second as the oldest entry is "still there"
	// (and answered with a present phase).
	time.Sleep(1100 * time.Millisecond)
	b := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 100, ReloadHint: true}})
	c := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 100}})
	onB, onC := open(t, feedConfig(b)), open(t, feedConfig(c))
	fromB := feedCookie(t, onB)

	_, err := onB.Changes(testContext(t), fromA)
	if !errors.Is(err, directory.ErrCookieRefused) {
		t.Errorf("an older server's cookie, with the reload hint: %v, want ErrCookieRefused", err)
	}
	t.Logf("older cookie, reload hint: %v", err)
	_, err = open(t, feedConfig(a)).Changes(testContext(t), fromB)
	if !errors.Is(err, directory.ErrCookieRefused) {
		t.Errorf("a newer server's cookie: %v, want ErrCookieRefused", err)
	}
	t.Logf("newer cookie: %v", err)

	ch := changes(t, onC, fromA)
	if ch.Present == nil || len(ch.Present) != 30 || len(ch.Entries) != 30 {
		t.Errorf("an older server's cookie without the reload hint: present %d, %d entries; want a full reload as a present phase", len(ch.Present), len(ch.Entries))
	}
}

func TestChanges_RefusesCookiesItCannotTrust(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(20, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 100}})
	d := open(t, feedConfig(s))
	good := feedCookie(t, d)
	otherBase := feedConfig(s)
	otherBase.UserBaseDN = data.PeopleDN()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x01
	for _, tc := range []struct {
		name   string
		d      *ldap.Directory
		cookie []byte
	}{
		{"none", d, nil},
		{"not ours", d, []byte("rid=000,csn=20250101000000.000000Z#000000#000#000000")},
		{"damaged", d, flipped},
		{"truncated", d, good[:len(good)-3]},
		// slapd answers a server cookie it cannot parse as it answers a
		// new client: every entry, no deletions, no cookie.
		{"server cookie unreadable", d, ldap.ReplaceServerCookies(good, []byte("garbage"))},
		{"taken under another configuration", open(t, otherBase), good},
	} {
		ch, err := tc.d.Changes(testContext(t), tc.cookie)
		if !errors.Is(err, directory.ErrCookieRefused) || ch != nil {
			t.Errorf("%s: %v, %v; want ErrCookieRefused", tc.name, ch, err)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
	}
	if ch := changes(t, d, good); len(ch.Entries) != 0 {
		t.Errorf("the good cookie after all that: %d entries", len(ch.Entries))
	}
}

func TestChanges_WithoutSyncProvIsNoFeed(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{})
	d := open(t, s.Config())
	if _, err := d.FeedCookie(testContext(t)); !errors.Is(err, directory.ErrNoFeed) {
		t.Errorf("FeedCookie: %v, want ErrNoFeed", err)
	} else {
		t.Log(err)
	}
	if _, err := d.Changes(testContext(t), []byte("x")); !errors.Is(err, directory.ErrNoFeed) {
		t.Errorf("Changes: %v, want ErrNoFeed", err)
	}

	// The feed names entries by entryUUID: another external_id has none.
	withFeed := slapdtest.Start(t, slapdtest.Options{SyncProv: &slapdtest.SyncProv{}})
	cfg := withFeed.Config()
	cfg.Attributes.ExternalID = "employeeNumber"
	if _, err := open(t, cfg).FeedCookie(testContext(t)); !errors.Is(err, directory.ErrNoFeed) || !strings.Contains(err.Error(), "employeeNumber") {
		t.Errorf("external_id employeeNumber: %v, want ErrNoFeed naming it", err)
	}
}

// feedServerWithChanges is a server with a session log and n users whose
// mail changed after the returned cookie was taken.
func feedServerWithChanges(t *testing.T, opts slapdtest.Options, n int) (*slapdtest.Server, []byte) {
	t.Helper()
	data := slapdtest.NewData("")
	users := data.AddUsers(n, "u", "")
	opts.Data = data
	if opts.SyncProv == nil {
		opts.SyncProv = &slapdtest.SyncProv{SessionLog: 10 * n}
	}
	s := slapdtest.Start(t, opts)
	root := feedConfig(s)
	root.BindDN, root.Password = s.RootDN, s.RootPassword // no size limit
	cookie := feedCookie(t, open(t, root))
	conn := s.Conn(t)
	for i, dn := range users {
		m := goldap.NewModifyRequest(dn, nil)
		m.Replace("mail", []string{fmt.Sprintf("new%d@example.com", i)})
		if err := conn.Modify(m); err != nil {
			t.Fatal(err)
		}
	}
	return s, cookie
}

func TestChanges_ConnectionLostMidwayReturnsNothing(t *testing.T) {
	t.Parallel()
	s, cookie := feedServerWithChanges(t, slapdtest.Options{}, 500)
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
	cfg := feedConfig(s)
	cfg.URL = p.URL
	d := open(t, cfg)
	p.CutAfterEntries(200)
	ch, err := d.Changes(testContext(t), cookie)
	if !errors.Is(err, directory.ErrIncomplete) || ch != nil {
		t.Fatalf("Changes over a connection cut after 200 of 500 entries: %v, %v; want an incomplete read and nothing", ch, err)
	}
	t.Log(err)
	p.CutAfterEntries(0)
	if ch := changes(t, d, cookie); len(ch.Entries) != 500 {
		t.Errorf("after reconnecting: %d entries, want 500", len(ch.Entries))
	}
}

func TestChanges_CancelledMidwayReturnsNothing(t *testing.T) {
	t.Parallel()
	s, cookie := feedServerWithChanges(t, slapdtest.Options{}, 500)
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
	cfg := feedConfig(s)
	cfg.URL = p.URL
	d := open(t, cfg)
	ctx, cancel := context.WithCancel(testContext(t))
	at := p.Entries() + 100
	p.OnEntry(func(n int) {
		if n == at {
			cancel()
		}
	})
	ch, err := d.Changes(ctx, cookie)
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, context.Canceled) || ch != nil {
		t.Errorf("cancelled Changes: %v, %v; want an incomplete read wrapping context.Canceled", ch, err)
	}
}

// A size limit on the bind account stops the sync search as it stops a
// plain one (sync searches are not paged); FeedCookie meets it too, since
// the server sends every entry's DN.
func TestChanges_SizeLimitIsIncomplete(t *testing.T) {
	t.Parallel()
	s, cookie := feedServerWithChanges(t, slapdtest.Options{SizeLimit: 100}, 300)
	d := open(t, feedConfig(s))
	ch, err := d.Changes(testContext(t), cookie)
	if !errors.Is(err, directory.ErrIncomplete) || ch != nil || !strings.Contains(err.Error(), "size limit") {
		t.Errorf("Changes of 300 entries under a size limit of 100: %v, %v", ch, err)
	}
	t.Log(err)
	if _, err := d.FeedCookie(testContext(t)); !errors.Is(err, directory.ErrIncomplete) {
		t.Errorf("FeedCookie over 300 users under a size limit of 100: %v", err)
	}
}

// The server stops once the users' refresh has come (a sync search is
// not paged: slapd writes it ahead into the socket, so a stop in its
// middle lands after it): the groups' refresh finds it silent.
func TestStall_ChangesGivesUpWhenTheServerStopsMidway(t *testing.T) {
	t.Parallel()
	s, cookie := feedServerWithChanges(t, slapdtest.Options{}, 500)
	pauseInCleanup(t, s)
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
	cfg := stallConfig(s, p.URL)
	cfg.Attributes.Disabled = "employeeType"
	d := open(t, cfg)
	at := p.Entries() + 500
	p.OnEntry(func(n int) {
		if n == at {
			pause(t, s)
		}
	})
	start := time.Now()
	ch, err := d.Changes(testContext(t), cookie)
	wantNoAnswer(t, "Changes", err, time.Since(start))
	if want := "under " + s.Suffix; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say where (%q)", err, want)
	}
	if ch != nil {
		t.Errorf("Changes from a stopped server returned %d entries", len(ch.Entries))
	}
}

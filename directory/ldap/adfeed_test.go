package ldap_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/sambatest"
)

// adFixture is an OU of its own on the shared Samba DC: users u1–u6,
// team (u2), staff (u1, u3 and team nested), other (u4).
type adFixture struct {
	s                  *sambatest.Server
	ou                 string
	prefix             string
	u                  map[string]string // name → DN
	team, staff, other string
}

func newADFixture(t *testing.T) *adFixture {
	t.Helper()
	s := sambatest.Shared(t)
	f := &adFixture{s: s, ou: s.NewOU(t, "feed"), u: map[string]string{}}
	// sAMAccountName is unique in the domain: names carry the OU's.
	p, _ := goldap.ParseDN(f.ou)
	f.prefix = p.RDNs[0].Attributes[0].Value + "-"
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		f.u[n] = s.AddUser(t, f.ou, f.prefix+n, f.prefix+n+"@example.com")
	}
	f.team = s.AddGroup(t, f.ou, f.prefix+"team", f.u["u2"])
	f.staff = s.AddGroup(t, f.ou, f.prefix+"staff", f.u["u1"], f.u["u3"], f.team)
	f.other = s.AddGroup(t, f.ou, f.prefix+"other", f.u["u4"])
	return f
}

// change makes the changes every AD feed test looks for: a mail changed,
// an account disabled, a user deleted (a member of other), a member
// added to team (nested in staff).
func (f *adFixture) change(t *testing.T) {
	t.Helper()
	f.s.Modify(t, f.u["u1"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"u1@new.example.com"}) })
	f.s.Disable(t, f.u["u3"])
	f.s.Delete(t, f.u["u4"])
	f.s.AddMember(t, f.team, f.u["u5"])
}

// check asserts what change made, as ch reports it.
func (f *adFixture) check(t *testing.T, ch *directory.Changes, ids map[string]string) {
	t.Helper()
	if e, ok := byID(ch.Entries, ids["u1"]); !ok || e.Email != "u1@new.example.com" || e.Name != f.prefix+"u1" {
		t.Errorf("u1 after its mail changed: %+v (found %v)", e, ok)
	}
	if e, ok := byID(ch.Entries, ids["u3"]); !ok || !e.Disabled {
		t.Errorf("u3 after it was disabled: %+v (found %v)", e, ok)
	}
	if e, ok := byID(ch.Entries, ids["team"]); !ok || e.Type != directory.TypeGroup {
		t.Errorf("team after a member was added: %+v (found %v)", e, ok)
	}
	members := slices.Clone(ch.Members[ids["team"]])
	slices.Sort(members)
	want := []string{ids["u2"], ids["u5"]}
	slices.Sort(want)
	if !slices.Equal(members, want) {
		t.Errorf("team's members: %v, want %v (u2, u5)", members, want)
	}
	deleted := setOf(ch.Deleted)
	if ch.Presence() {
		deleted = map[string]bool{}
		for _, n := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "team", "staff", "other"} {
			if !ch.Present[ids[n]] {
				deleted[ids[n]] = true
			}
		}
	}
	if !deleted[ids["u4"]] || len(deleted) != 1 {
		t.Errorf("deleted: %v, want only u4 (%s)", deleted, ids["u4"])
	}
	for _, n := range []string{"u2", "u6", "staff", "other"} {
		if _, ok := byID(ch.Entries, ids[n]); ok {
			t.Errorf("%s did not change but is among the changed entries", n)
		}
	}
}

func (f *adFixture) ids(t *testing.T) map[string]string {
	ids := map[string]string{}
	for n, dn := range f.u {
		ids[n] = f.s.GUID(t, dn)
	}
	for n, dn := range map[string]string{"team": f.team, "staff": f.staff, "other": f.other} {
		ids[n] = f.s.GUID(t, dn)
	}
	return ids
}

// TestADFeed_DirSync: an account that may use DirSync and read
// tombstones (on Samba: a Domain Admin) reads the changes with DirSync: a
// changed mail, a disabled account, a deletion (the tombstone), a member
// added to a nested group — and nothing else, at a cost of a few entries.
func TestADFeed_DirSync(t *testing.T) {
	f := newADFixture(t)
	ids := f.ids(t)
	d := open(t, f.s.Config(f.s.AdminDN, f.ou))
	cookie := feedCookie(t, d)
	if mode := ldap.ADCookieMode(cookie); mode != "dirsync" {
		t.Fatalf("cookie mode %q, want dirsync", mode)
	}
	if ch := changes(t, d, cookie); len(ch.Entries)+len(ch.Deleted) != 0 || ch.Via != "DirSync" {
		t.Errorf("nothing changed, yet: %d entries, deleted %v, via %q", len(ch.Entries), ch.Deleted, ch.Via)
	}

	f.change(t)
	ch := changes(t, d, cookie)
	t.Logf("DirSync: %d entries read for 4 changes, via %q", ch.Reads, ch.Via)
	f.check(t, ch, ids)
	if ch.Presence() {
		t.Error("DirSync answered with a present set: deletions come as tombstones")
	}
	if ch.Reads > 20 {
		t.Errorf("an incremental read of 4 changes read %d entries", ch.Reads)
	}
	// The next read from the new cookie sees nothing.
	if again := changes(t, d, ch.Cookie); len(again.Entries)+len(again.Deleted) != 0 {
		t.Errorf("from the new cookie: %d entries, deleted %v", len(again.Entries), again.Deleted)
	}
}

// TestADFeed_DirSyncBlindToTombstones: an account granted only
// "Replicating Directory Changes" may use DirSync, but Samba hides the
// tombstones from it: the feed finds that out and lists every objectGUID
// in scope, so the deletion is still seen.
func TestADFeed_DirSyncBlindToTombstones(t *testing.T) {
	f := newADFixture(t)
	ids := f.ids(t)
	d := open(t, f.s.Config(f.s.DirSyncDN, f.ou))
	cookie := feedCookie(t, d)
	if mode := ldap.ADCookieMode(cookie); mode != "dirsync" {
		t.Fatalf("cookie mode %q, want dirsync", mode)
	}
	f.change(t)
	ch := changes(t, d, cookie)
	t.Logf("DirSync without tombstones: %d entries read, via %q", ch.Reads, ch.Via)
	if !ch.Presence() || !strings.Contains(ch.Via, "tombstones") {
		t.Fatalf("present set %v, via %q: the deletion would be lost", ch.Presence(), ch.Via)
	}
	f.check(t, ch, ids)
}

// TestADFeed_USNWithoutDirSyncRight: an ordinary account may not use
// DirSync: the feed finds that out by itself and reads uSNChanged on the
// DC, saying so; deletions are still seen (the present set), since the
// group a deleted user left does not change on Samba.
func TestADFeed_USNWithoutDirSyncRight(t *testing.T) {
	f := newADFixture(t)
	ids := f.ids(t)
	d := open(t, f.s.Config(f.s.PlainDN, f.ou))
	cookie := feedCookie(t, d)
	if mode := ldap.ADCookieMode(cookie); mode != "usn" {
		t.Fatalf("cookie mode %q, want usn", mode)
	}
	f.change(t)
	ch := changes(t, d, cookie)
	t.Logf("uSNChanged: %d entries read, via %q", ch.Reads, ch.Via)
	if !strings.Contains(ch.Via, "uSNChanged") || !strings.Contains(ch.Via, "may not use DirSync") {
		t.Errorf("via %q does not say uSNChanged and why", ch.Via)
	}
	if !ch.Presence() {
		t.Fatal("uSNChanged read without a present set: deletions would be lost")
	}
	f.check(t, ch, ids)
	if again := changes(t, d, ch.Cookie); len(again.Entries) != 0 {
		t.Errorf("from the new cookie: %d entries changed", len(again.Entries))
	}
}

// TestADFeed_RefusedCookies: a DirSync cookie the DC cannot parse, a
// uSNChanged cookie of another invocation (a restore, another DC), and a
// DirSync cookie used by an account without the right are refused.
func TestADFeed_RefusedCookies(t *testing.T) {
	f := newADFixture(t)
	priv := open(t, f.s.Config(f.s.DirSyncDN, f.ou))
	plain := open(t, f.s.Config(f.s.PlainDN, f.ou))
	dirsync, usn := feedCookie(t, priv), feedCookie(t, plain)
	for name, c := range map[string]struct {
		d      *ldap.Directory
		cookie []byte
	}{
		"garbage DirSync cookie":       {priv, ldap.RewriteADCookie(dirsync, []byte("not a cookie"), "")},
		"another invocation":           {plain, ldap.RewriteADCookie(usn, nil, "00000000-0000-0000-0000-000000000001")},
		"DirSync without the right":    {plain, dirsync},
		"damaged envelope":             {priv, append(slices.Clone(dirsync[:len(dirsync)-1]), 'x')},
		"base changed since (DirSync)": {open(t, f.s.Config(f.s.DirSyncDN, f.s.BaseDN)), dirsync},
	} {
		_, err := c.d.Changes(testContext(t), c.cookie)
		if !errors.Is(err, directory.ErrCookieRefused) {
			t.Errorf("%s: %v, want ErrCookieRefused", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestADFeed_PrimaryGroup: a user whose primary group becomes a group of
// the OU makes the feed say to read that group whole (primaryGroupID
// members are never in member).
func TestADFeed_PrimaryGroup(t *testing.T) {
	f := newADFixture(t)
	ids := f.ids(t)
	d := open(t, f.s.Config(f.s.DirSyncDN, f.ou))
	cookie := feedCookie(t, d)
	// AD wants the user in the group before it becomes its primary group.
	f.s.AddMember(t, f.other, f.u["u6"])
	rid := f.s.RID(t, f.other)
	f.s.Modify(t, f.u["u6"], func(m *goldap.ModifyRequest) { m.Replace("primaryGroupID", []string{rid}) })
	ch := changes(t, d, cookie)
	if !slices.Contains(ch.Reread, ids["other"]) {
		t.Errorf("reread %v, want other (%s), u6's primary group", ch.Reread, ids["other"])
	}
}

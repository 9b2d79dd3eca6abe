package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// The bulk connection (paged searches) against slapd: it reads what
// go-ldap reads, and is secured and checked as the session is.

// TestBulk_ReadsWhatGoLDAPReads runs every read both ways on the same
// server: escaped and unicode names, users without mail or without their
// ID, locked accounts, groups of every class, a referral, nested groups,
// and an Active Directory flavor through overrides.
func TestBulk_ReadsWhatGoLDAPReads(t *testing.T) {
	t.Parallel()
	data := peopleData()
	data.AddUser(slapdtest.User{UID: "locked", Attrs: map[string][]string{"employeeType": {"514"}}})
	withNumber := data.AddUser(slapdtest.User{UID: "noid", Attrs: map[string][]string{"employeeNumber": {"E9"}}})
	members := data.AddUsers(300, "m", "")
	nested := data.AddGroup(slapdtest.Group{CN: "nested", Members: members[:10]})
	big := data.AddGroup(slapdtest.Group{CN: "big", Members: append(members[5:], nested, withNumber)})
	data.AddGroup(slapdtest.Group{CN: "posix", Class: "posixGroup", MemberUIDs: []string{"anna", "m000001"}})
	data.AddEntry("ou=branch,"+data.Suffix(), map[string][]string{
		"objectClass": {"referral", "extensibleObject"}, "ou": {"branch"},
		"ref": {"ldap://branch.example.com/ou=branch,dc=example,dc=com"},
	})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})

	ad := s.Config()
	ad.Flavor = ldap.FlavorActiveDirectory
	ad.Attributes = ldap.Attributes{Username: "uid", ExternalID: "entryUUID", UserClass: "inetOrgPerson",
		GroupClass: "groupOfNames", Disabled: "employeeType"}
	small := s.Config()
	small.PageSize = 7
	// Entries without their external ID: every one but noid.
	byNumber := s.Config()
	byNumber.Attributes.ExternalID = "employeeNumber"
	for _, tc := range []struct {
		name string
		cfg  ldap.Config
		// byUUID: group and user IDs are entryUUIDs.
		byUUID bool
	}{
		{"openldap", s.Config(), true},
		{"pages of 7", small, true},
		{"active-directory", ad, true},
		{"without IDs", byNumber, false},
	} {
		cfg := tc.cfg
		t.Run(tc.name, func(t *testing.T) {
			bulk, goldap := open(t, cfg), open(t, cfg)
			ldap.UseGoLDAPReader(goldap)
			for _, q := range []string{"*", "an*", "(uid=m0000*)", "Zoë*"} {
				a, b := searchDetailed(t, bulk, q), searchDetailed(t, goldap, q)
				if !slices.Equal(a, b) {
					t.Errorf("Search(%q):\nbulk   %v\ngo-ldap %v", q, a, b)
				}
			}
			ids := []string{slapdtest.UUID(members[3]), slapdtest.UUID(members[299]), "6f1c3a1e-0000-5000-8000-000000000001"}
			if !tc.byUUID {
				return
			}
			// The referral makes the lookup conclude nothing, both ways.
			a, errA := bulk.LookupUsers(testContext(t), ids)
			b, errB := goldap.LookupUsers(testContext(t), ids)
			if fmt.Sprint(a, errA) != fmt.Sprint(b, errB) || !errors.Is(errA, directory.ErrIncomplete) {
				t.Errorf("LookupUsers: bulk %v, %v; go-ldap %v, %v", a, errA, b, errB)
			}
			ga, gb := readGroup(t, bulk, big), readGroup(t, goldap, big)
			ma, mb := slices.Clone(ga.Members), slices.Clone(gb.Members)
			byID := func(x, y directory.Entry) int { return strings.Compare(x.DN, y.DN) }
			slices.SortFunc(ma, byID)
			slices.SortFunc(mb, byID)
			if ga.Group != gb.Group || !slices.Equal(ma, mb) || ga.Incomplete != gb.Incomplete || len(ma) != 301 {
				t.Errorf("ReadGroup: bulk %+v (%d members, %q), go-ldap %+v (%d members, %q)",
					ga.Group, len(ma), ga.Incomplete, gb.Group, len(mb), gb.Incomplete)
			}
		})
	}
}

// searchDetailed is every entry of a search, sorted, and its referrals.
func searchDetailed(t *testing.T, d *ldap.Directory, q string) []string {
	t.Helper()
	var out []string
	res, err := d.SearchDetailed(testContext(t), q, func(e directory.Entry) error {
		out = append(out, fmt.Sprintf("%+v", e))
		return nil
	})
	if err != nil {
		t.Fatalf("Search(%q): %v", q, err)
	}
	slices.Sort(out)
	return append(out, res.Referrals...)
}

func TestBulk_SecuredAndCheckedAsTheSession(t *testing.T) {
	t.Parallel()
	s := tlsServer(t)
	startTLS := s.Config()
	ldaps := s.Config()
	ldaps.URL, ldaps.StartTLS = s.LDAPSURL, false
	for name, cfg := range map[string]ldap.Config{"StartTLS": startTLS, "ldaps": ldaps} {
		if v, err := ldap.ConnectBulk(testContext(t), cfg); err != nil || !strings.HasPrefix(v, "TLS 1.") {
			t.Errorf("%s: %q, %v; want a TLS connection", name, v, err)
		}
	}

	untrusted := slapdtest.UntrustedCAFile(t)
	for name, cfg := range map[string]ldap.Config{"StartTLS": startTLS, "ldaps": ldaps} {
		cfg.CAFile = untrusted
		if _, err := ldap.ConnectBulk(testContext(t), cfg); err == nil || !strings.Contains(err.Error(), "not issued by the CA in ca_file "+untrusted) {
			t.Errorf("%s with another CA: %v", name, err)
		}
		cfg.CAFile = ""
		cfg.URL = strings.Replace(cfg.URL, "127.0.0.1", "localhost", 1)
		cfg.InsecureSkipVerify = false
		if _, err := ldap.ConnectBulk(testContext(t), cfg); err == nil || !strings.Contains(err.Error(), "set ca_file") {
			t.Errorf("%s with the system roots: %v", name, err)
		}
	}

	plain := s.Config()
	plain.StartTLS, plain.CAFile = false, ""
	if _, err := ldap.ConnectBulk(testContext(t), plain); err == nil || !strings.Contains(err.Error(), "refusing to send the password") {
		t.Errorf("a bind in clear without allow_insecure: %v", err)
	}
	plain.AllowInsecure = true
	if v, err := ldap.ConnectBulk(testContext(t), plain); err != nil || v != "" {
		t.Errorf("a bind in clear with allow_insecure: %q, %v", v, err)
	}
	wrong := startTLS
	wrong.Password = "not-the-password-1234"
	_, err := ldap.ConnectBulk(testContext(t), wrong)
	if err == nil || !strings.Contains(err.Error(), "invalid credentials") || strings.Contains(err.Error(), wrong.Password) {
		t.Errorf("a wrong password: %v", err)
	}
}

// The server stops after Open and before the first search: the bulk
// connection is opened into silence and given up after the timeout.
func TestStall_SearchGivesUpWhenTheServerStopsBeforeIt(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(50, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	pauseInCleanup(t, s)
	d := open(t, stallConfig(s, ""))
	pause(t, s)
	start := time.Now()
	err := d.Search(testContext(t), "*", func(directory.Entry) error { return nil })
	wantNoAnswer(t, "Search", err, time.Since(start))

	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := d.Search(testContext(t), "u*", func(directory.Entry) error { n++; return nil }); err != nil || n != 50 {
		t.Errorf("Search after the server came back: %d entries, %v", n, err)
	}
}

// A search cancelled before it starts delivers nothing and says so.
func TestBulk_CancelledBeforeTheSearch(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{Data: peopleData()})
	d := open(t, s.Config())
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	err := d.Search(ctx, "*", func(directory.Entry) error { t.Error("an entry after cancel"); return nil })
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if got := search(t, d, "anna"); len(got) != 1 {
		t.Errorf("search after: %v", names(got))
	}
}

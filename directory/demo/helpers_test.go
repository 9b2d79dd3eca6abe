package demo

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
)

// startServer starts a server for one test and stops it when the test ends.
func startServer(t testing.TB, opts Options) *LDAPServer {
	t.Helper()
	s, err := StartLDAP(opts)
	if err != nil {
		t.Fatalf("StartLDAP: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// adapterConfig is how usersync's configuration names the server.
func adapterConfig(s *LDAPServer) ldap.Config {
	return ldap.Config{
		Name: "dc01", URL: s.URL(), StartTLS: s.StartTLS(), BaseDN: s.Suffix(),
		BindDN: s.BindDN(), Password: s.BindPassword(), CAFile: s.CAFile(),
		Flavor: ldap.FlavorOpenLDAP, Timeout: ldap.Duration{Duration: 10 * time.Second},
	}
}

// openAdapter opens the real directory/ldap adapter on cfg.
func openAdapter(t testing.TB, cfg ldap.Config) *ldap.Directory {
	t.Helper()
	d, err := ldap.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("ldap.Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// searchAll runs query through the adapter and returns every entry.
func searchAll(t testing.TB, d directory.Directory, query string) []directory.Entry {
	t.Helper()
	var out []directory.Entry
	if err := d.Search(context.Background(), query, func(e directory.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("search %q: %v", query, err)
	}
	return out
}

// namesOf lists the entries' names, sorted.
func namesOf(entries []directory.Entry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name)
	}
	slices.Sort(out)
	return out
}

// The oracle: what SampleData holds, read without the server, so that the
// tests compare the server's answers with the data itself.

func sampleEntries(keep func(Entry) bool) []Entry {
	var out []Entry
	for _, e := range SampleData().Entries {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func isPerson(e Entry) bool { return hasValue(e, "objectClass", "inetOrgPerson") }
func isGroup(e Entry) bool  { return hasValue(e, "objectClass", "groupOfNames") }

func hasValue(e Entry, attr, v string) bool {
	for _, x := range e.Get(attr) {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func first(e Entry, attr string) string {
	if v := e.Get(attr); len(v) > 0 {
		return v[0]
	}
	return ""
}

// oracleMembers lists the uids of the people in group cn, nested groups
// followed.
func oracleMembers(t testing.TB, cn string) []string {
	t.Helper()
	byDN := map[string]Entry{}
	for _, e := range SampleData().Entries {
		byDN[strings.ToLower(e.DN)] = e
	}
	seen := map[string]bool{}
	var uids []string
	var walk func(dn string)
	walk = func(dn string) {
		if seen[strings.ToLower(dn)] {
			return
		}
		seen[strings.ToLower(dn)] = true
		e, ok := byDN[strings.ToLower(dn)]
		if !ok {
			t.Fatalf("member %s does not exist", dn)
		}
		if isGroup(e) {
			for _, m := range e.Get("member") {
				walk(m)
			}
			return
		}
		uids = append(uids, first(e, "uid"))
	}
	walk("cn=" + cn + "," + GroupsDN)
	slices.Sort(uids)
	return uids
}

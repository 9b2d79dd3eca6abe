package sambatest_test

import (
	"os"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap/sambatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sambatest.StopShared()
	os.Exit(code)
}

// TestServer_DirSyncRights: the DC answers over verified LDAPS, makes
// users and groups, and DirSync is refused to the plain account and
// allowed to the one granted Replicating Directory Changes.
func TestServer_DirSyncRights(t *testing.T) {
	s := sambatest.Shared(t)
	ou := s.NewOU(t, "smoke")
	u := s.AddUser(t, ou, "smoke1", "smoke1@example.com")
	g := s.AddGroup(t, ou, "smokers", u)
	if id := s.GUID(t, g); len(id) != 36 {
		t.Errorf("GUID of %s: %q", g, id)
	}
	s.Disable(t, u)

	for _, c := range []struct {
		dn    string
		allow bool
	}{{s.DirSyncDN, true}, {s.PlainDN, false}} {
		cfg := s.Config(c.dn, ou)
		conn, err := goldap.DialURL(cfg.URL, goldap.DialWithTLSConfig(tlsConfig(t, cfg.CAFile)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Bind(c.dn, cfg.Password); err != nil {
			t.Fatalf("bind as %s: %v", c.dn, err)
		}
		req := goldap.NewSearchRequest(s.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=group)", []string{"member"}, nil)
		_, err = conn.DirSync(req, 0, 0, nil)
		switch {
		case c.allow && err != nil:
			t.Errorf("DirSync as %s: %v", c.dn, err)
		case !c.allow && !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights):
			t.Errorf("DirSync as %s: %v, want insufficientAccessRights", c.dn, err)
		}
	}
}

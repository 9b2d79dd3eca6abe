package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap/sambatest"
)

// adSection is an [[ldap]] section for the shared Samba DC, binding as
// bindDN under base, TLS verified with the DC's CA.
func adSection(s *sambatest.Server, base, bindDN string) string {
	return fmt.Sprintf(`
[[ldap]]
name = "dc01"
url = %q
base_dn = %q
bind_dn = %q
bind_password_env = "DC01_PASSWORD"
ca_file = %q
flavor = "active-directory"
timeout = "10s"
`, s.URL, base, bindDN, s.CAFile)
}

func (e *env) useAD(s *sambatest.Server, base, bindDN string) {
	e.writeConfig(adSection(s, base, bindDN))
	pw := sambatest.ServicePassword
	if bindDN == s.AdminDN {
		pw = sambatest.AdminPassword
	}
	e.extra = append(slices.DeleteFunc(e.extra, func(v string) bool { return strings.HasPrefix(v, "DC01_PASSWORD=") }), "DC01_PASSWORD="+pw)
}

// TestSync_ActiveDirectoryFeed: against a real Samba AD DC, after a full
// sync the next ones read DirSync's changes: a changed mail, a disabled
// account, a deleted user (who leaves its group, though the group does
// not change), a member added to a nested group — with mode
// "incremental", saying DirSync. Bound as an account that may not use
// DirSync, the held DirSync cookie is refused: the sync reads fully and
// says why, and the next ones read uSNChanged on the DC, deletions
// included. A full read then agrees with what the feeds applied. (The
// groups are small: a removal is over the threshold, hence --force.)
func TestSync_ActiveDirectoryFeed(t *testing.T) {
	s := sambatest.Shared(t)
	ou := s.NewOU(t, "cli")
	p, _ := goldap.ParseDN(ou)
	pre := p.RDNs[0].Attributes[0].Value + "-"
	u := map[string]string{}
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7"} {
		u[n] = s.AddUser(t, ou, pre+n, pre+n+"@example.com")
	}
	team := s.AddGroup(t, ou, pre+"team", u["u2"])
	s.AddGroup(t, ou, pre+"staff", u["u1"], u["u3"], team)
	s.AddGroup(t, ou, pre+"other", u["u4"], u["u6"], u["u7"])

	e := newEnv(t)
	e.useAD(s, ou, s.AdminDN)
	e.ok("import", "ldap", "--server", "dc01", "--query", pre+"staff", "--enable", "--yes")
	e.ok("import", "ldap", "--server", "dc01", "--query", pre+"other", "--enable", "--yes")
	if first := runOf(t, e.ok("sync", "--all", "--yes", "--json")); first.Mode != "full" {
		t.Fatalf("first sync: mode %q, want full", first.Mode)
	}

	s.Modify(t, u["u1"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"u1@new.example.com"}) })
	s.Disable(t, u["u3"])
	s.Delete(t, u["u4"])
	s.AddMember(t, team, u["u5"])

	runs := jsonLines(t, e.ok("sync", "--all", "--yes", "--force", "--json").stdout)
	if len(runs) != 1 || runs[0].Mode != "incremental" || runs[0].Status != "completed" || !strings.Contains(runs[0].Note, "DirSync") {
		t.Fatalf("incremental sync: %+v", runs)
	}
	t.Logf("DirSync sync: %s", runs[0].Note)
	users := usersByName(t, e)
	if got := users[pre+"u1"].Email; got != "u1@new.example.com" {
		t.Errorf("u1's mail: %q", got)
	}
	if users[pre+"u3"].Enabled {
		t.Error("u3 is disabled in AD but enabled in the store")
	}
	if users[pre+"u4"].Enabled {
		t.Error("u4 was deleted in AD but is enabled in the store")
	}
	members := func(group string) map[string]bool {
		var g groupJSON
		e.jsonOf(&g, "groups", "show", pre+group, "--json")
		m := map[string]bool{}
		for _, n := range g.Members {
			m[strings.TrimPrefix(n, pre)] = true
		}
		return m
	}
	if m := members("other"); m["u4"] || !m["u6"] || len(m) != 2 {
		t.Errorf("other after u4's deletion: %v", m)
	}
	if m := members("staff"); !m["u5"] || !m["u2"] || !m["u1"] {
		t.Errorf("staff after u5 joined the nested team: %v", m)
	}

	// The bind account loses DirSync: its cookie is refused, the sync
	// reads fully by itself and says why.
	e.useAD(s, ou, s.PlainDN)
	refused := runOf(t, e.ok("sync", pre+"other", "--yes", "--json"))
	if refused.Mode != "full" || refused.Status != "completed" || !strings.Contains(refused.Note, "DirSync") || !strings.Contains(refused.Note, "read fully") {
		t.Fatalf("sync with a refused DirSync cookie: %+v", refused)
	}
	t.Logf("refused: %s", refused.Note)
	s.Modify(t, u["u7"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"u7@new.example.com"}) })
	s.Delete(t, u["u6"])
	usn := runOf(t, e.ok("sync", pre+"other", "--yes", "--force", "--json"))
	if usn.Mode != "incremental" || !strings.Contains(usn.Note, "uSNChanged") {
		t.Fatalf("sync after the full read: mode %q, note %q", usn.Mode, usn.Note)
	}
	t.Logf("uSNChanged sync: %s", usn.Note)
	users = usersByName(t, e)
	if users[pre+"u7"].Email != "u7@new.example.com" || users[pre+"u6"].Enabled {
		t.Errorf("after the uSNChanged sync: u7 %+v, u6 %+v", users[pre+"u7"], users[pre+"u6"])
	}
	if m := members("other"); m["u6"] || !m["u7"] || len(m) != 1 {
		t.Errorf("other after u6's deletion: %v", m)
	}

	// A full read agrees with what the feeds applied.
	e.useAD(s, ou, s.AdminDN)
	audit := runOf(t, e.ok("sync", pre+"staff", "--full", "--json"))
	if c := audit.Counts; audit.Mode != "full" || c.Created+c.Updated+c.Removed+c.Disabled != 0 {
		t.Errorf("drift audit after incremental syncs: %+v\n%v", audit.Counts, audit.Entries)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/store"
)

func TestUsers_AddListShowJSONShape(t *testing.T) {
	e := newEnv(t)
	e.ok("users", "add", "aandrei", "--email", "aandrei@example.com", "--name", "Andrei Aandrei", "--roles", "Viewer,Editor@project-x")

	var list []json.RawMessage
	e.jsonOf(&list, "users", "list", "--json")
	if len(list) != 1 {
		t.Fatalf("users list: %d users, want 1", len(list))
	}
	requireKeys(t, "user", keysOf(t, list[0]),
		"username", "display_name", "email", "kind", "source", "external_id", "dn", "enabled", "roles", "groups")

	var u userJSON
	e.jsonOf(&u, "users", "show", "AANDREI", "--json")
	want := userJSON{
		Username: "aandrei", DisplayName: "Andrei Aandrei", Email: "aandrei@example.com",
		Kind: "internal", Enabled: true, Groups: []string{},
		Roles: []assignmentJSON{{Role: "Editor", Scope: "project-x"}, {Role: "Viewer", Scope: "global"}},
	}
	if !sameUser(u, want) {
		t.Errorf("users show aandrei = %+v, want %+v", u, want)
	}
}

func sameUser(a, b userJSON) bool {
	ja, _ := json.Marshal(normalizeRoles(a))
	jb, _ := json.Marshal(normalizeRoles(b))
	return string(ja) == string(jb)
}

func normalizeRoles(u userJSON) userJSON {
	roles := append([]assignmentJSON(nil), u.Roles...)
	for i := range roles {
		for j := i + 1; j < len(roles); j++ {
			if roles[j].Role+roles[j].Scope < roles[i].Role+roles[i].Scope {
				roles[i], roles[j] = roles[j], roles[i]
			}
		}
	}
	u.Roles = roles
	return u
}

func TestUsers_CaseFoldedCollisionIsRefused(t *testing.T) {
	e := newEnv(t)
	e.ok("users", "add", "aandrei")
	r := e.run("users", "add", "AAndrei")
	if r.code != exitFailure {
		t.Fatalf("adding AAndrei next to aandrei: exit %d, want %d (stderr %q)", r.code, exitFailure, r.stderr)
	}
	if !strings.Contains(r.stderr, "already exists") {
		t.Errorf("stderr %q does not say the user already exists", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("an error printed on stdout: %q", r.stdout)
	}
}

func TestUsers_EnableDisableDelete(t *testing.T) {
	e := newEnv(t)
	e.ok("users", "add", "bob", "--disabled")
	var u userJSON
	e.jsonOf(&u, "users", "show", "bob", "--json")
	if u.Enabled {
		t.Fatal("bob added --disabled is enabled")
	}
	e.ok("users", "enable", "bob")
	e.jsonOf(&u, "users", "show", "bob", "--json")
	if !u.Enabled {
		t.Fatal("bob is still disabled after 'users enable'")
	}
	e.ok("users", "disable", "Bob")
	e.jsonOf(&u, "users", "show", "bob", "--json")
	if u.Enabled {
		t.Fatal("bob is still enabled after 'users disable'")
	}
	e.ok("users", "delete", "bob")
	if r := e.run("users", "show", "bob"); r.code != exitFailure || !strings.Contains(r.stderr, "no user") {
		t.Fatalf("show after delete: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRoles_DefaultsAddAssignUnassign(t *testing.T) {
	e := newEnv(t)
	var roles []roleJSON
	e.jsonOf(&roles, "roles", "list", "--json")
	names := map[string]bool{}
	for _, r := range roles {
		names[r.Name] = true
	}
	for _, want := range []string{"Viewer", "Editor", "Administrator"} {
		if !names[want] {
			t.Errorf("a new store lacks role %s (has %v)", want, roles)
		}
	}
	e.ok("roles", "add", "Auditor", "--description", "Reads the audit trail")
	e.ok("users", "add", "carol")
	e.ok("roles", "assign", "carol", "Auditor@finance")
	e.ok("roles", "assign", "carol", "Viewer")
	var u userJSON
	e.jsonOf(&u, "users", "show", "carol", "--json")
	if len(u.Roles) != 2 {
		t.Fatalf("carol's roles = %v, want Auditor@finance and Viewer@global", u.Roles)
	}
	e.ok("roles", "unassign", "carol", "Auditor@finance")
	e.jsonOf(&u, "users", "show", "carol", "--json")
	if len(u.Roles) != 1 || u.Roles[0] != (assignmentJSON{Role: "Viewer", Scope: "global"}) {
		t.Fatalf("after unassign carol's roles = %v, want [Viewer@global]", u.Roles)
	}
	if r := e.run("roles", "assign", "carol", "NoSuchRole"); r.code != exitFailure {
		t.Errorf("assigning an unknown role: exit %d, want 1", r.code)
	}
}

func TestRuns_EmptyJournalIsAnEmptyList(t *testing.T) {
	e := newEnv(t)
	r := e.ok("runs", "list", "--json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("runs list --json on a new store = %q, want []", r.stdout)
	}
	if r := e.run("runs", "show", "42"); r.code != exitFailure || !strings.Contains(r.stderr, "no run 42") {
		t.Errorf("runs show 42: exit %d stderr %q", r.code, r.stderr)
	}
	if r := e.run("runs", "show", "abc"); r.code != exitUsage {
		t.Errorf("runs show abc: exit %d, want %d", r.code, exitUsage)
	}
}

func TestExitCodes_BadUsageIsTwo(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"users", "list", "--no-such-flag"},
		{"users", "show"},
		{"users", "add"},
		{"roles", "assign", "x"},
		{"no-such-command"},
		{"sync"},
		{"import", "ldap", "--query", "an*"},
		{"users", "add", "x", "--roles", "@scope"},
	} {
		r := e.run(args...)
		if r.code != exitUsage {
			t.Errorf("usersync %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("usersync %s: printed on stdout: %q", strings.Join(args, " "), r.stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	r := e.ok("version")
	if !strings.HasPrefix(r.stdout, "usersync ") {
		t.Errorf("version printed %q", r.stdout)
	}
}

func TestStore_CreatedPrivateUnderXDGDataHome(t *testing.T) {
	e := newEnv(t)
	e.store = "" // USERSYNC_STORE empty: the XDG default applies
	e.extra = append(e.extra, "USERSYNC_STORE=")
	e.ok("users", "add", "bob") // a command that writes creates the store
	path := filepath.Join(e.dir, "xdg-data", "usersync", "usersync.db")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the default store was not created under XDG_DATA_HOME: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("store mode = %o, want 600", mode)
	}
	other := filepath.Join(e.dir, "other.db")
	e.ok("--store", other, "users", "add", "dave")
	if _, err := os.Stat(other); err != nil {
		t.Errorf("--store did not pick the file: %v", err)
	}
}

func TestStore_InUseIsReportedQuickly(t *testing.T) {
	e := newEnv(t)
	e.ok("users", "list") // create it
	st, err := store.Open(e.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	r := e.run("users", "list")
	took := time.Since(start)
	if r.code != exitFailure {
		t.Fatalf("users list on a store in use: exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "in use") {
		t.Errorf("stderr %q does not say the store is in use", r.stderr)
	}
	if took > 5*time.Second {
		t.Errorf("took %v to report the store in use; want a second or two", took)
	}
}

func TestStore_NotAStoreIsAClearError(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Dir(e.store), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.store, []byte(strings.Repeat("this is not a database\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.run("users", "list")
	if r.code != exitFailure || !strings.Contains(r.stderr, "not a usersync store") {
		t.Fatalf("a text file as store: exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
		t.Fatalf("a text file as store panicked:\n%s", r.stderr)
	}
}

func TestConfig_ErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"syntax", "[[ldap]]\nname = \"dc01\"\nurl = ldap://x\n", ":3:"},
		{"unknown key", "[[ldap]]\nname = \"dc01\"\nurl = \"ldap://x\"\nbase_dn = \"dc=x\"\nbind_pasword_env = \"X\"\n", ":5: unknown key"},
		{"bad flavor", "[[ldap]]\nname = \"dc01\"\nurl = \"ldap://x\"\nbase_dn = \"dc=x\"\nflavor = \"novell\"\n", ":5:"},
		{"bad url", "[[ldap]]\nname = \"dc01\"\nurl = \"http://x\"\nbase_dn = \"dc=x\"\n", ":3:"},
		{"bad timeout", "[[ldap]]\nname = \"dc01\"\nurl = \"ldap://x\"\nbase_dn = \"dc=x\"\ntimeout = \"soon\"\n", ":5:"},
		{"duplicate", "[[ldap]]\nname = \"dc01\"\nurl = \"ldap://x\"\nbase_dn = \"dc=x\"\n[[ldap]]\nname = \"DC01\"\nurl = \"ldap://y\"\nbase_dn = \"dc=y\"\n", ":6:"},
		{"entra auth", "[[entra]]\nname = \"contoso\"\ntenant_id = \"t\"\nclient_id = \"c\"\nauth = \"password\"\n", ":5:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.writeConfig(tt.config)
			r := e.run("directories", "list")
			if r.code != exitFailure {
				t.Fatalf("exit %d, want 1; stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, e.config+tt.want) {
				t.Errorf("stderr %q does not point at %s%s", r.stderr, e.config, tt.want)
			}
		})
	}
}

func TestDirectories_ListJSON(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(`
[[ldap]]
name = "dc01"
url = "ldaps://dc01.corp.example:636"
base_dn = "DC=corp,DC=example"
flavor = "active-directory"
timeout = "30s"
[ldap.attributes]
username = "sAMAccountName"

[[entra]]
name = "contoso"
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
auth = "device-code"
cloud = "usgov"
`)
	var dirs []directoryJSON
	e.jsonOf(&dirs, "directories", "list", "--json")
	want := []directoryJSON{
		{Name: "dc01", Kind: "ldap", URL: "ldaps://dc01.corp.example:636"},
		{Name: "contoso", Kind: "entra", URL: "https://graph.microsoft.us"},
	}
	if len(dirs) != 2 || dirs[0] != want[0] || dirs[1] != want[1] {
		t.Errorf("directories list = %+v, want %+v", dirs, want)
	}
}

func TestConfig_MissingNamedFileIsAnError(t *testing.T) {
	e := newEnv(t)
	r := e.run("--config", filepath.Join(e.dir, "nope.toml"), "directories", "list")
	if r.code != exitFailure || !strings.Contains(r.stderr, "nope.toml") {
		t.Errorf("missing --config file: exit %d stderr %q", r.code, r.stderr)
	}
}

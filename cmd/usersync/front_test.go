package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The front door: help that fits the terminal, mistyped commands, no
// configuration yet, version, completions.

func TestHelp_FitsEightyColumnsAndShowsPlaceholders(t *testing.T) {
	e := newEnv(t)
	e.extra = append(e.extra, "COLUMNS=80")
	for _, args := range [][]string{{"--help"}, {"import", "ldap", "--help"}, {"import", "entra", "--help"}, {"sync", "--help"}, {"users", "--help"}, {"serve", "--help"}} {
		r := e.ok(args...)
		for i, l := range strings.Split(r.stdout, "\n") {
			if w := len([]rune(l)); w > 80 && !strings.HasPrefix(strings.TrimSpace(l), "usersync ") {
				t.Errorf("%v line %d is %d columns wide:\n%s", args, i+1, w, l)
			}
		}
		// A word cut in two would leave a line ending in a letter and the
		// next starting with a lowercase letter of the same word: check the
		// descriptions wrap at spaces by finding every word whole.
		if strings.Contains(r.stdout, "  | --all") {
			t.Errorf("%v: malformed usage:\n%s", args, r.stdout)
		}
	}
	root := e.ok("--help").stdout
	for _, want := range []string{"--store PATH", "--config PATH", "sync ", "import ", "Run 'usersync COMMAND --help'"} {
		if !strings.Contains(root, want) {
			t.Errorf("root help lacks %q:\n%s", want, root)
		}
	}
	if ldapHelp := e.ok("import", "ldap", "--help").stdout; !strings.Contains(ldapHelp, "--server NAME") || !strings.Contains(ldapHelp, "--roles ROLES") {
		t.Errorf("import ldap help lacks placeholders:\n%s", ldapHelp)
	}
}

func TestMistypedCommand_SuggestsTheRightOne(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"imprt"}, `did you mean "import"?`},
		{[]string{"user", "list"}, `did you mean "users"?`},
		{[]string{"users", "lst"}, `did you mean "list"?`},
		{[]string{"sycn", "--all"}, `did you mean "sync"?`},
	} {
		r := e.run(tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestVersion_FlagAndCommandAgree(t *testing.T) {
	e := newEnv(t)
	a, b := e.ok("version").stdout, e.ok("--version").stdout
	if a != b || !regexp.MustCompile(`^usersync \S+ \(go`).MatchString(a) {
		t.Errorf("version %q, --version %q", a, b)
	}
}

func TestNoConfiguration_SaysWhereAndHowToStart(t *testing.T) {
	e := newEnv(t) // its config file is not written
	r := e.run("directories", "list")
	for _, want := range []string{e.config, "does not exist", "usersync demo", "usersync directories init"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("directories list without a configuration lacks %q: %q", want, r.stderr)
		}
	}
	if r.code != exitFailure {
		t.Errorf("directories list with a named configuration that does not exist: exit %d", r.code)
	}
	if r := e.run("import", "ldap", "--server", "dc01", "--query", "x"); r.code == exitOK || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("import without a configuration: exit %d %q", r.code, r.stderr)
	}
	e.ok("directories", "init")
	info, err := os.Stat(e.config)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("init wrote %v (%v), want mode 0600", info, err)
	}
	if r := e.run("directories", "init"); r.code != exitFailure || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("a second init: exit %d %q", r.code, r.stderr)
	}
	// The template, uncommented, is a valid configuration of three directories.
	var lines []string
	for _, l := range strings.Split(configTemplate, "\n") {
		if rest, ok := strings.CutPrefix(l, "# "); ok && (strings.HasPrefix(rest, "[") || regexp.MustCompile(`^[a-z_]+ = `).MatchString(rest)) {
			l = rest
		}
		lines = append(lines, l)
	}
	cfg, err := parseConfig("template.toml", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("the uncommented template: %v", err)
	}
	if len(cfg.LDAP) != 2 || len(cfg.Entra) != 1 {
		t.Errorf("the uncommented template configures %d LDAP and %d Entra directories", len(cfg.LDAP), len(cfg.Entra))
	}
}

func TestCompletion_OffersConfiguredNames(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(`
[[ldap]]
name = "dc01"
url = "ldaps://dc01.example:636"
base_dn = "dc=example"
[[ldap]]
name = "dc02"
url = "ldaps://dc02.example:636"
base_dn = "dc=example"
[[entra]]
name = "contoso"
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
`)
	r := e.ok("__complete", "import", "ldap", "--server", "dc")
	if !strings.Contains(r.stdout, "dc01") || !strings.Contains(r.stdout, "dc02") || strings.Contains(r.stdout, "contoso") {
		t.Errorf("--server completions:\n%s", r.stdout)
	}
	r = e.ok("__complete", "import", "entra", "--tenant", "")
	if !strings.Contains(r.stdout, "contoso") || strings.Contains(r.stdout, "dc01") {
		t.Errorf("--tenant completions:\n%s", r.stdout)
	}
}

// TestReadCommands_DoNotCreateTheStore: reading before anything was
// imported shows an empty store and says so, without creating the file.
func TestReadCommands_DoNotCreateTheStore(t *testing.T) {
	e := newEnv(t)
	r := e.ok("users", "list", "--json")
	if strings.TrimSpace(r.stdout) != "[]" || !strings.Contains(r.stderr, "No store yet") {
		t.Errorf("users list without a store: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := e.ok("roles", "list"); !strings.Contains(r.stdout, "Viewer") {
		t.Errorf("roles list without a store does not show the default roles:\n%s", r.stdout)
	}
	if _, err := os.Stat(e.store); !os.IsNotExist(err) {
		t.Errorf("a read command created the store: %v", err)
	}
}

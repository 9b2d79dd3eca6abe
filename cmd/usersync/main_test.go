package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory/ldap/sambatest"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// binary is the usersync binary built once for the tests: the CLI is tested
// the way scripts meet it.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "usersync-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "usersync")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build usersync:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	sambatest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// env is a scratch environment: its own store, config and XDG dirs.
type env struct {
	t      *testing.T
	dir    string
	store  string
	config string
	extra  []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	return &env{t: t, dir: dir, store: filepath.Join(dir, "data", "usersync.db"), config: filepath.Join(dir, "config.toml")}
}

func (e *env) writeConfig(text string) {
	e.t.Helper()
	if err := os.WriteFile(e.config, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// run executes usersync with args and the environment's store and config.
func (e *env) run(args ...string) result {
	e.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(),
		"USERSYNC_STORE="+e.store,
		"USERSYNC_CONFIG="+e.config,
		"XDG_DATA_HOME="+filepath.Join(e.dir, "xdg-data"),
		"XDG_CONFIG_HOME="+filepath.Join(e.dir, "xdg-config"),
		"NO_COLOR=1",
	)
	cmd.Env = append(cmd.Env, e.extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// ok runs args and fails the test unless it exits 0.
func (e *env) ok(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("usersync %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// jsonOf runs args and decodes stdout into v.
func (e *env) jsonOf(v any, args ...string) {
	e.t.Helper()
	r := e.ok(args...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		e.t.Fatalf("usersync %s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// keysOf decodes one JSON object and returns its field names.
func keysOf(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, raw)
	}
	keys := map[string]bool{}
	for k := range m {
		keys[k] = true
	}
	return keys
}

func requireKeys(t *testing.T, what string, got map[string]bool, want ...string) {
	t.Helper()
	for _, k := range want {
		if !got[k] {
			t.Errorf("%s JSON lacks field %q (has %v)", what, k, got)
		}
	}
}

// ldapSection is an [[ldap]] section naming srv, reached at url, as the
// server name (openldap flavor, bind password in $DC01_PASSWORD, plain
// binds allowed), with more lines of the section appended (page_size,
// timeout, [ldap.attributes] …).
func ldapSection(name, url string, srv *slapdtest.Server, more ...string) string {
	return fmt.Sprintf(`
[[ldap]]
name = %q
url = %q
base_dn = %q
bind_dn = %q
bind_password_env = "DC01_PASSWORD"
flavor = "openldap"
allow_insecure = true
`, name, url, srv.Suffix, srv.BindDN) + strings.Join(more, "\n") + "\n"
}

// useLDAP configures e with sections naming servers of srv, and gives the
// commands srv's bind password.
func (e *env) useLDAP(srv *slapdtest.Server, sections ...string) {
	e.writeConfig(strings.Join(sections, ""))
	e.extra = append(e.extra, "DC01_PASSWORD="+srv.BindPassword)
}

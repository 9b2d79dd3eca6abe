package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/usersync/usersync/store"
)

// filledEnv is an environment whose store holds a few users, roles and
// assignments, made through the CLI.
func filledEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.ok("users", "add", "aandrei", "--email", "aandrei@example.com", "--name", "Andrei Aandrei", "--roles", "Viewer")
	e.ok("users", "add", "bbarbu", "--email", "bbarbu@example.com", "--disabled")
	e.ok("roles", "add", "Auditor", "--description", "Reads the audit trail")
	e.ok("roles", "assign", "bbarbu", "Auditor@finance")
	return e
}

func sumOf(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// flipIn flips one bit in every occurrence of text in the file (old
// copies stay in free pages: flipping only those would damage nothing).
func flipIn(t *testing.T, path, text string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(b, []byte(text)); i >= 0; i = bytes.Index(b, []byte(text)) {
		b[i+1] ^= 0x04
		n++
	}
	if n == 0 {
		t.Fatalf("%q is not in %s", text, path)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// readCommands are the commands that only read the store.
var readCommands = [][]string{
	{"users", "list"}, {"users", "list", "--json"}, {"users"}, {"users", "show", "aandrei"},
	{"users", "show", "bbarbu", "--json"}, {"groups", "list"}, {"groups", "list", "--json"},
	{"roles", "list"}, {"roles", "list", "--json"}, {"runs", "list"}, {"runs", "list", "--json"},
	{"store", "check"}, {"store", "check", "--json"},
}

func TestStoreCheck_SoundStoreExitsZero(t *testing.T) {
	e := filledEnv(t)
	r := e.ok("store", "check")
	if !strings.Contains(r.stdout, e.store+" is sound") || !strings.Contains(r.stdout, "2 users") {
		t.Errorf("store check on a sound store printed %q", r.stdout)
	}
	var got map[string]json.RawMessage
	e.jsonOf(&got, "store", "check", "--json")
	requireKeys(t, "store check", keysOf(t, mustJSON(t, got)), "file", "ok", "schema", "users", "groups", "roles", "runs", "problems")
	var rep storeCheckJSON
	e.jsonOf(&rep, "store", "check", "--json")
	if rep.File != e.store || !rep.OK || rep.Schema != store.SchemaVersion || rep.Users != 2 || rep.Roles != 4 || len(rep.Problems) != 0 {
		t.Errorf("store check --json = %+v", rep)
	}
	if r := e.ok("store", "check", "--json"); !strings.Contains(r.stdout, `"problems": []`) {
		t.Errorf("a sound store's problems are not an empty list: %s", r.stdout)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStoreCheck_DamagedStoreExitsOneNamingTheFile(t *testing.T) {
	e := filledEnv(t)
	flipIn(t, e.store, "aandrei@example.com")
	before := sumOf(t, e.store)
	r := e.run("store", "check")
	if r.code != exitFailure {
		t.Fatalf("store check on a damaged store: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, e.store+" is damaged") || !strings.Contains(r.stdout, "checksum") {
		t.Errorf("stdout does not list the damage: %q", r.stdout)
	}
	for _, want := range []string{e.store, "damaged", "backup", "usersync store check"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not mention %q", r.stderr, want)
		}
	}
	r = e.run("store", "check", "--json")
	var rep storeCheckJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitFailure {
		t.Fatalf("store check --json on a damaged store: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if rep.OK || rep.File != e.store || len(rep.Problems) == 0 {
		t.Errorf("store check --json = %+v, want ok false with problems", rep)
	}
	if sumOf(t, e.store) != before {
		t.Error("store check changed the file")
	}
}

func TestStoreCheck_NoStoreIsAnError(t *testing.T) {
	e := newEnv(t)
	r := e.run("store", "check")
	if r.code != exitFailure || !strings.Contains(r.stderr, "no store at "+e.store) {
		t.Errorf("store check without a store: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(e.store); err == nil {
		t.Error("store check created a store")
	}
}

// Every command, reading or writing, says the store is damaged, names it
// and says what to do; none panics, and none changes the file.
func TestStore_DamagedStoreIsNeverBelievedNorWritten(t *testing.T) {
	e := filledEnv(t)
	good, err := os.ReadFile(e.store)
	if err != nil {
		t.Fatal(err)
	}
	truncated := func() {
		if err := os.WriteFile(e.store, good[:len(good)/2], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flipped := func() {
		if err := os.WriteFile(e.store, good, 0o600); err != nil {
			t.Fatal(err)
		}
		flipIn(t, e.store, "bbarbu@example.com")
	}
	for _, damage := range []struct {
		name string
		do   func()
	}{{"truncated", truncated}, {"a flipped bit", flipped}} {
		damage.do()
		before := sumOf(t, e.store)
		for _, args := range [][]string{
			{"users", "list"}, {"users", "show", "bbarbu"}, {"roles", "list"},
			{"users", "add", "carol"}, {"users", "disable", "aandrei"}, {"roles", "assign", "aandrei", "Editor"},
			{"store", "backup", filepath.Join(e.dir, "backup.db")},
		} {
			r := e.run(args...)
			if args[0] == "roles" && args[1] == "list" && damage.name != "truncated" && r.code == 0 {
				continue // the roles are not what was damaged: reads of them may go on
			}
			if r.code != exitFailure {
				t.Errorf("%s: usersync %s: exit %d, want 1\nstdout %s\nstderr %s", damage.name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
				continue
			}
			for _, want := range []string{e.store + " is damaged", "Restore", "usersync store check"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("%s: usersync %s: stderr %q does not say %q", damage.name, strings.Join(args, " "), r.stderr, want)
				}
			}
			for _, bad := range []string{"panic", "goroutine", "some other file", "not a usersync store"} {
				if strings.Contains(r.stderr, bad) {
					t.Errorf("%s: usersync %s: stderr says %q:\n%s", damage.name, strings.Join(args, " "), bad, r.stderr)
				}
			}
		}
		if sumOf(t, e.store) != before {
			t.Errorf("%s: a command changed the damaged store", damage.name)
		}
		if _, err := os.Stat(filepath.Join(e.dir, "backup.db")); err == nil {
			t.Errorf("%s: a damaged store was backed up", damage.name)
		}
	}
}

func TestStoreBackup_WritesAPrivateCheckedCopy(t *testing.T) {
	e := filledEnv(t)
	before := sumOf(t, e.store)
	backup := filepath.Join(e.dir, "backups", "usersync.db")
	if err := os.MkdirAll(filepath.Dir(backup), 0o700); err != nil {
		t.Fatal(err)
	}
	r := e.ok("store", "backup", backup)
	if !strings.Contains(r.stdout, "Backed up "+e.store+" to "+backup) {
		t.Errorf("store backup printed %q", r.stdout)
	}
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %o, want 600", fi.Mode().Perm())
	}
	if sumOf(t, e.store) != before {
		t.Error("store backup changed the store")
	}
	// The copy is a store: it checks sound and reads the same.
	e.ok("--store", backup, "store", "check")
	want := e.ok("users", "list", "--json").stdout
	if got := e.ok("--store", backup, "users", "list", "--json").stdout; got != want {
		t.Errorf("the copy lists other users:\n%s\nwant\n%s", got, want)
	}

	// An existing file is refused unless --force.
	e.ok("users", "add", "carol")
	r = e.run("store", "backup", backup)
	if r.code != exitFailure || !strings.Contains(r.stderr, "already exists") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("backup over an existing file: exit %d, stderr %q", r.code, r.stderr)
	}
	e.ok("store", "backup", "--force", backup)
	var users []userJSON
	e.jsonOf(&users, "--store", backup, "users", "list", "--json")
	if len(users) != 3 {
		t.Errorf("the replaced copy has %d users, want 3", len(users))
	}
	if r := e.run("store", "backup", e.store, "--force"); r.code != exitFailure || !strings.Contains(r.stderr, "the store itself") {
		t.Errorf("backup onto the store: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := e.run("store", "backup"); r.code != exitUsage {
		t.Errorf("store backup without FILE: exit %d, want 2", r.code)
	}
}

func TestReadOnly_ReadCommandsLeaveTheFileUnchanged(t *testing.T) {
	e := filledEnv(t)
	before := sumOf(t, e.store)
	for _, args := range readCommands {
		e.ok(args...)
		if sumOf(t, e.store) != before {
			t.Fatalf("usersync %s changed the store's bytes", strings.Join(args, " "))
		}
	}
	if r := e.run("runs", "show", "1"); r.code != exitFailure {
		t.Errorf("runs show 1 on an empty journal: exit %d", r.code)
	}
	e.ok("store", "backup", filepath.Join(e.dir, "copy.db"))
	if sumOf(t, e.store) != before {
		t.Fatal("runs show or store backup changed the store's bytes")
	}
}

// A store the user may not write can be read: a copy of mode 0400 (which
// root may still write: there the test shows only that reading writes
// nothing), and, run as root, a copy of mode 0444 read by nobody, who may
// not write it.
func TestReadOnly_ReadCommandsWorkOnAFileTheUserMayNotWrite(t *testing.T) {
	e := filledEnv(t)
	dir, err := os.MkdirTemp("", "usersync-readonly")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.store)
	if err != nil {
		t.Fatal(err)
	}
	type reader struct {
		mode os.FileMode
		cred *syscall.Credential
	}
	readers := []reader{{0o400, nil}}
	if os.Geteuid() == 0 {
		readers = append(readers, reader{0o444, &syscall.Credential{Uid: 65534, Gid: 65534}})
	}
	bin := filepath.Join(dir, "usersync") // where nobody may run it
	if err := linkOrCopy(binary, bin); err != nil {
		t.Fatal(err)
	}
	run := func(cred *syscall.Credential, args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "USERSYNC_CONFIG="+filepath.Join(dir, "config.toml"), "HOME="+dir,
			"XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "NO_COLOR=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	for _, r := range readers {
		copyPath := filepath.Join(dir, fmt.Sprintf("usersync-%o.db", r.mode))
		if err := os.WriteFile(copyPath, b, r.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(copyPath, r.mode); err != nil {
			t.Fatal(err)
		}
		who := "its owner"
		if r.cred != nil {
			who = "nobody"
		}
		before := sumOf(t, copyPath)
		for _, args := range readCommands {
			stdout, stderr, err := run(r.cred, append([]string{"--store", copyPath}, args...)...)
			if err != nil {
				t.Errorf("usersync %s on a %o store, as %s: %v\n%s", strings.Join(args, " "), r.mode, who, err, stderr)
			}
			if strings.Join(args, " ") == "users list" && !strings.Contains(stdout, "aandrei") {
				t.Errorf("users list printed %q", stdout)
			}
		}
		if sumOf(t, copyPath) != before {
			t.Errorf("reading a %o store as %s changed it", r.mode, who)
		}
		if r.cred != nil {
			// A command that writes says it may not.
			_, stderr, err := run(r.cred, "--store", copyPath, "users", "add", "carol")
			if err == nil || !strings.Contains(stderr, "permission denied") {
				t.Errorf("users add as nobody on a store nobody may write: %v\n%s", err, stderr)
			}
		}
	}
}

func linkOrCopy(from, to string) error {
	if os.Link(from, to) == nil {
		return nil
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

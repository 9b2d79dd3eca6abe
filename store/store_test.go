package store

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpen_CreatesFileWithMode0600AndDirs0700(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "users.db")
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Path() != path {
		t.Errorf("Path() = %q, want %q", st.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("store file mode = %o, want 600", m)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("store directory mode = %o, want 700", m)
	}
}

func TestOpen_NewStoreHasDefaultRoles(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	roles, err := st.ListRoles()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
		if r.Description == "" {
			t.Errorf("role %s has no description", r.Name)
		}
	}
	if got := strings.Join(names, ","); got != "Administrator,Editor,Viewer" {
		t.Errorf("roles of a new store = %s, want Administrator,Editor,Viewer", got)
	}
}

func TestOpen_ReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, st, User{Username: "bob"})
	st.Close()
	st, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mustUser(t, st, "BOB")
	if roles, _ := st.ListRoles(); len(roles) != 3 {
		t.Errorf("reopening re-seeded roles: %v", roles)
	}
}

func TestOpen_EmptyFileIsInitialized(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Open(path, nil)
	if err != nil {
		t.Fatalf("opening an empty file: %v", err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Error(err)
	}
}

func TestOpen_SecondOpenIsErrInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// bbolt's flock belongs to the open file description, so a second
	// handle in this process is refused just as another process would be.
	start := time.Now()
	st2, err := Open(path, &OpenOptions{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		st2.Close()
		t.Fatal("a second Open of a store in use succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v to report the store in use", took)
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("second Open: %v, want ErrInUse", err)
	}
	for _, want := range []string{path, "in use by another usersync process", "--store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestHelperProcessHoldStore is not a test: TestOpen_ErrInUseAcrossProcesses
// runs it in a child process, which opens the store and waits.
func TestHelperProcessHoldStore(t *testing.T) {
	path := os.Getenv("USERSYNC_TEST_HOLD")
	if path == "" {
		t.Skip("helper process")
	}
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	os.Stdout.WriteString("open\n")
	time.Sleep(30 * time.Second)
}

func TestOpen_ErrInUseAcrossProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessHoldStore$")
	cmd.Env = append(os.Environ(), "USERSYNC_TEST_HOLD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "open\n" {
		t.Fatalf("helper did not open the store: %q %v", buf, err)
	}
	start := time.Now()
	st, err := Open(path, nil) // the default timeout: a second
	if err == nil {
		st.Close()
		t.Fatal("opened a store another process holds")
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("Open = %v, want ErrInUse", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 2500*time.Millisecond {
		t.Errorf("took %v to give up; want about a second", took)
	}
}

func TestOpen_NotAStoreIsAClearError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	otherBolt := filepath.Join(dir, "other.db")
	db, err := bolt.Open(otherBolt, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("stuff")); return err })
	db.Close()
	tests := []struct {
		name    string
		content []byte
		path    string
	}{
		{"text file", []byte("hello, this is not a database\n"), ""},
		{"one page of zeros", make([]byte, 4096), ""},
		{"random bytes", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 5000), ""},
		{"a TOML config", []byte("[[ldap]]\nname = \"dc01\"\n"), ""},
		{"another program's bbolt file", nil, otherBolt},
		{"a directory", nil, dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = filepath.Join(t.TempDir(), "x.db")
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			st, err := Open(path, nil)
			if err == nil {
				st.Close()
				t.Fatal("opened something that is not a store")
			}
			if !errors.Is(err, ErrNotStore) {
				t.Errorf("Open = %v, want ErrNotStore", err)
			}
			if !strings.Contains(err.Error(), path+" is not a usersync store") {
				t.Errorf("error %q does not say %s is not a usersync store", err, path)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("opening changed the file")
			}
		})
	}
}

func TestOpen_NewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put(keySchema, u64(7)) })
	st.Close()
	_, err = Open(path, nil)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
	if want := "store schema 7 is newer than this usersync supports (2); upgrade usersync"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestOpen_ReadOnlyReadsAndRefusesWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, st, User{Username: "bob"})
	st.Close()
	ro, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	mustUser(t, ro, "bob")
	if _, err := ro.AddUser(User{Username: "carol"}); err == nil {
		t.Error("a read-only store accepted a write")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), &OpenOptions{ReadOnly: true}); err == nil {
		t.Error("read-only Open of a missing file succeeded")
	}
}

func TestOpen_RunLeftRunningIsMarkedInterrupted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = st.db.Update(func(tx *bolt.Tx) error {
		_, err := newRun(tx, &runRec{Started: time.Now().UnixNano(), Status: RunRunning, Source: "dc01"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns()
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	if runs[0].Status != RunInterrupted || runs[0].Finished.IsZero() {
		t.Errorf("run left running: status %s, finished %v; want interrupted with a finish time", runs[0].Status, runs[0].Finished)
	}
}

func TestOpen_CorruptRecordIsAnErrorNotAPanic(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "bob"})
	var good []byte
	st.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("users"))
		good = bytes.Clone(b.Get(u64(1)))
		return b.Put(u64(1), seal(u64(1), []byte("{garbage")))
	})
	if _, err := st.GetUser("bob"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("GetUser of a corrupt record = %v, want ErrCorrupt", err)
	}
	if _, err := st.ListUsers(UserFilter{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ListUsers over a corrupt record = %v, want ErrCorrupt", err)
	}
	if err := st.Check(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check = %v, want ErrCorrupt", err)
	}
	// The store refuses writes now that it has seen the damage: mend it
	// behind its back for the cleanup check.
	if _, err := st.AddUser(User{Username: "carol"}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("AddUser to a damaged store = %v, want ErrCorrupt", err)
	}
	st.db.DB.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("users")).Put(u64(1), good) })
}

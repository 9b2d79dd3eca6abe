package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Before, every Open wrote a transaction (marking stale runs), so that
// even 'users list' changed the file's bytes. Reads change nothing now,
// whether the store was opened read-only or to write.
func TestReadOnly_ReadsNeverChangeTheFile(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 300)
	before := fileSum(t, path)
	for _, ro := range []bool{true, false} {
		st, err := Open(path, &OpenOptions{ReadOnly: ro})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dump(st); err != nil {
			t.Fatal(err)
		}
		if rep, err := st.Verify(); err != nil || !rep.OK() {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
		if _, err := st.Backup(filepath.Join(t.TempDir(), "copy.db"), false); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if fileSum(t, path) != before {
			t.Fatalf("opening (read-only %v), reading, checking and backing up changed the file", ro)
		}
	}
	if rep, err := VerifyFile(path, nil); err != nil || !rep.OK() {
		t.Fatalf("VerifyFile = %+v, %v", rep, err)
	}
	if fileSum(t, path) != before {
		t.Fatal("VerifyFile changed the file")
	}
}

// A file the user may only read can be read (run as root, the mode bits
// do not stop a write open; the test shows the read-only open needs no
// more than read permission and writes nothing).
func TestReadOnly_FileWithMode0400CanBeRead(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 300)
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)
	st, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of a 0400 file: %v", err)
	}
	if n := countUsers(t, st); n != 320 {
		t.Errorf("%d users, want 320", n)
	}
	if _, err := st.AddUser(User{Username: "x"}); err == nil {
		t.Error("a read-only store took a write")
	}
	st.Close()
	if fileSum(t, path) != before {
		t.Error("the 0400 file changed")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o400 {
		t.Errorf("mode is %o now", fi.Mode().Perm())
	}
}

// Readers share the file; a writer has it alone.
func TestReadOnly_ReadersShareWritersDoNot(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 300)
	a, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	b.Close()
	if _, err := Open(path, &OpenOptions{LockTimeout: 100 * time.Millisecond}); !errors.Is(err, ErrInUse) {
		t.Errorf("a writer next to a reader = %v, want ErrInUse", err)
	}
	if _, err := VerifyFile(path, nil); err != nil {
		t.Errorf("VerifyFile next to a reader: %v", err)
	}
}

func TestReadOnly_StaleRunShowsInterruptedAndIsMarkedOnlyByAWriter(t *testing.T) {
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
	before := fileSum(t, path)
	ro, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := ro.ListRuns()
	if err != nil || len(runs) != 1 || runs[0].Status != RunInterrupted || !strings.Contains(runs[0].Error, "ended before it finished") {
		t.Errorf("ListRuns read-only = %+v, %v", runs, err)
	}
	ro.Close()
	if fileSum(t, path) != before {
		t.Fatal("a read-only open marked the run")
	}
}

func TestBackup_IsAPrivateCheckedCopyAndNeverOverwritesUnasked(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 300)
	st, err := Open(path, nil) // open to write: a backup needs only a read transaction
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want, err := dump(st)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "backup.db")
	n, err := st.Backup(copyPath, false)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != n {
		t.Errorf("backup: mode %o, %d bytes (Backup said %d); want 600", fi.Mode().Perm(), fi.Size(), n)
	}
	if rep, err := VerifyFile(copyPath, nil); err != nil || !rep.OK() {
		t.Fatalf("the backup does not check sound: %+v %v", rep, err)
	}
	cp, err := Open(copyPath, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := dump(cp)
	cp.Close()
	if err != nil || got != want {
		t.Errorf("the backup reads differently (%v)", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the backup left files behind: %v", entries)
	}

	// An existing file is refused, unless replace; the store itself always.
	mustAddUser(t, st, User{Username: "newcomer"})
	if _, err := st.Backup(copyPath, false); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("Backup over an existing file = %v, want ErrExists mentioning --force", err)
	}
	if _, err := st.Backup(copyPath, true); err != nil {
		t.Fatalf("Backup replacing: %v", err)
	}
	if fi, _ := os.Stat(copyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced backup has mode %o", fi.Mode().Perm())
	}
	cp, err = Open(copyPath, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	mustUser(t, cp, "newcomer")
	cp.Close()
	for _, replace := range []bool{false, true} {
		if _, err := st.Backup(path, replace); err == nil || !strings.Contains(err.Error(), "the store itself") {
			t.Errorf("Backup onto the store (replace %v) = %v", replace, err)
		}
	}
	if _, err := st.Backup(filepath.Join(dir, "no", "such", "dir.db"), false); err == nil {
		t.Error("Backup into a missing directory succeeded")
	}
}

func TestBackup_OfADamagedStoreWritesNothing(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 300)
	flipInValue(t, path, []byte("uid=user000123,ou=people")) // only in the user record's value
	st, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	copyPath := filepath.Join(t.TempDir(), "backup.db")
	if _, err := st.Backup(copyPath, false); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no backup was written") {
		t.Errorf("Backup of a damaged store = %v, want ErrCorrupt saying no backup was written", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(copyPath)); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

// flipInValue flips one bit of the first occurrence of text in the file.
func flipInValue(t *testing.T, path string, text []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), string(text))
	if i < 0 {
		t.Fatalf("%q is not in the file", text)
	}
	b[i] ^= 0x02
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/usersync/usersync/directory"
)

// openTest opens a new store in a temporary directory; it is checked for
// consistency and closed when the test ends.
func openTest(t testing.TB, opts *OpenOptions) *Store {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), "users.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("store inconsistent at the end of the test: %v", err)
		}
		st.Close()
	})
	return st
}

// person is a directory user entry with sensible fields from a name.
func person(name string) directory.Entry {
	return directory.Entry{
		Type: directory.TypeUser, ExternalID: "ext-" + name, Name: name,
		DisplayName: "Display " + name, Email: name + "@example.com",
		DN: "uid=" + name + ",ou=people,dc=example",
	}
}

// people makes n entries user0000…
func people(n int) []directory.Entry {
	out := make([]directory.Entry, n)
	for i := range out {
		out[i] = person(fmt.Sprintf("user%06d", i))
	}
	return out
}

// groupRead is a complete read of a group with the given members.
func groupRead(name string, members ...directory.Entry) *directory.GroupRead {
	return &directory.GroupRead{
		Group:   directory.Entry{Type: directory.TypeGroup, ExternalID: "gext-" + name, Name: name, DN: "cn=" + name + ",ou=groups,dc=example"},
		Members: members,
	}
}

// allOn are the options of a plain LDAP import.
var allOn = Options{AddNew: true, UpdateExisting: true, Enable: true}

// apply applies in (source dc01 unless set) and fails the test on error.
func apply(t testing.TB, st *Store, in Input) *Run {
	t.Helper()
	if in.Source == "" {
		in.Source = "dc01"
	}
	if in.Actor == "" {
		in.Actor = "tester"
	}
	run, err := st.Apply(context.Background(), in, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return run
}

// importUsers applies users from dc01 with opts.
func importUsers(t testing.TB, st *Store, opts Options, users ...directory.Entry) *Run {
	t.Helper()
	return apply(t, st, Input{Users: users, Options: opts})
}

// entryOf finds the entry named name (of type user unless it is a group).
func entryOf(t testing.TB, run *Run, name string) RunEntry {
	t.Helper()
	for _, e := range run.Entries {
		if e.Name == name && e.Action != ActionRemoved {
			return e
		}
	}
	t.Fatalf("run has no entry for %s: %+v", name, run.Entries)
	return RunEntry{}
}

func mustUser(t testing.TB, st *Store, name string) User {
	t.Helper()
	u, err := st.GetUser(name)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", name, err)
	}
	return u
}

func mustAddUser(t testing.TB, st *Store, u User) User {
	t.Helper()
	out, err := st.AddUser(u)
	if err != nil {
		t.Fatalf("AddUser(%s): %v", u.Username, err)
	}
	return out
}

func countUsers(t testing.TB, st *Store) int {
	t.Helper()
	us, err := st.ListUsers(UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(us)
}

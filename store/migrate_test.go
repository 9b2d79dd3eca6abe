package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/usersync/usersync/directory"
)

// writeV1Store writes a store as usersync's schema 1 laid it out, with raw
// bbolt: JSON records without seals, no counts. alice is internal; bob and
// carol come from dc01 and are members of Sales; run 1 completed, run 2
// was left running by a process that died.
func writeV1Store(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	err = db.Update(func(tx *bolt.Tx) error {
		b := map[string]*bolt.Bucket{}
		for _, name := range []string{"meta", "users", "idx_user_name", "idx_user_ext", "idx_user_email", "groups", "idx_group_name", "idx_group_ext", "members", "member_of", "roles", "runs", "run_entries"} {
			var err error
			if b[name], err = tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		put := func(bucket string, k, v []byte) {
			if err == nil {
				err = b[bucket].Put(k, v)
			}
		}
		put("meta", []byte("magic"), []byte("usersync"))
		put("meta", []byte("schema"), u64(1))
		for _, r := range DefaultRoles {
			put("roles", []byte(Fold(r.Name)), encode(r))
		}
		users := []*userRec{
			{Username: "alice", Email: "Alice@Example.com", Kind: Internal, Enabled: true, Roles: []Assignment{{"Viewer", GlobalScope}}, Created: now, Modified: now},
			{Username: "bob", Email: "bob@example.com", Kind: External, Source: "dc01", ExternalID: "ext-bob", DN: "uid=bob", Enabled: true, Created: now, Synced: now, Modified: now},
			{Username: "carol", Kind: External, Source: "dc01", ExternalID: "ext-carol", Enabled: false, Created: now, Synced: now, Modified: now},
		}
		for i, u := range users {
			id := uint64(i + 1)
			b["users"].SetSequence(id)
			put("users", u64(id), encode(u))
			put("idx_user_name", []byte(Fold(u.Username)), u64(id))
			if u.Kind == External {
				put("idx_user_ext", extKey(u.Source, u.ExternalID), u64(id))
			}
			if e := foldEmail(u.Email); e != "" {
				put("idx_user_email", emailKey(e, id), []byte{})
			}
		}
		b["groups"].SetSequence(1)
		put("groups", u64(1), encode(&groupRec{Name: "Sales", Kind: External, Source: "dc01", ExternalID: "gext-sales", Roles: []Assignment{{"Editor", "project-x"}}, Created: now}))
		put("idx_group_name", []byte("sales"), u64(1))
		put("idx_group_ext", extKey("dc01", "gext-sales"), u64(1))
		for _, uid := range []uint64{2, 3} {
			put("members", pair(1, uid), []byte{})
			put("member_of", pair(uid, 1), []byte{})
		}
		b["runs"].SetSequence(2)
		entries := [][]RunEntry{
			{{Name: "bob", Type: directory.TypeUser, Action: ActionCreated}, {Name: "carol", Type: directory.TypeUser, Action: ActionCreated}, {Name: "Sales", Type: directory.TypeGroup, Action: ActionCreated}},
			{{Name: "bob", Type: directory.TypeUser, Action: ActionUnchanged}},
		}
		for i, status := range []RunStatus{RunCompleted, RunRunning} {
			id := uint64(i + 1)
			r := &runRec{Started: now, Actor: "cron", Source: "dc01", Command: "usersync sync --all --yes", Status: status, Entries: len(entries[i])}
			for _, e := range entries[i] {
				r.Counts.count(e.Action)
			}
			put("runs", u64(id), encode(r))
			eb, cerr := b["run_entries"].CreateBucket(u64(id))
			if cerr != nil {
				return cerr
			}
			for j := range entries[i] {
				eb.SetSequence(uint64(j + 1))
				if err == nil {
					err = eb.Put(u64(uint64(j+1)), encode(&entries[i][j]))
				}
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrate_V1StoreIsReadAsItIsAndUpgradedOnOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v1.db")
	writeV1Store(t, path)
	before := fileSum(t, path)

	// Read-only: read as schema 1, never upgraded.
	ro, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dump(ro); err != nil {
		t.Fatalf("reading a schema-1 store read-only: %v", err)
	}
	usersV1, _ := ro.ListUsers(UserFilter{})
	groupsV1, _ := ro.ListGroups()
	if runs, _ := ro.ListRuns(); len(runs) != 2 || runs[0].Status != RunInterrupted {
		t.Errorf("a run left running shows as %+v, want interrupted", runs)
	}
	rep, err := ro.Verify()
	if err != nil || !rep.OK() || rep.Schema != 1 || rep.Users != 3 {
		t.Errorf("Verify of the schema-1 store = %+v, %v", rep, err)
	}
	ro.Close()
	if fileSum(t, path) != before {
		t.Fatal("a read-only open of a schema-1 store changed it")
	}

	// Open to write: upgraded in place.
	st, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open of a schema-1 store: %v", err)
	}
	defer st.Close()
	rep, err = st.Verify()
	if err != nil || !rep.OK() || rep.Schema != SchemaVersion {
		t.Fatalf("after the upgrade Verify = %+v, %v", rep, err)
	}
	if _, err := dump(st); err != nil {
		t.Fatal(err)
	}
	users, _ := st.ListUsers(UserFilter{})
	groups, _ := st.ListGroups()
	if !reflect.DeepEqual(users, usersV1) || !reflect.DeepEqual(groups, groupsV1) {
		t.Errorf("the upgrade changed the users or groups:\n%+v\n%+v", users, groups)
	}
	if runs, _ := st.ListRuns(); runs[0].Status != RunInterrupted || runs[0].Finished.IsZero() {
		t.Errorf("the run left running is %s (finished %v) after the upgrade, want interrupted", runs[0].Status, runs[0].Finished)
	}
	if g, err := st.GetGroup("SALES"); err != nil || len(g.Members) != 2 || g.Members[0] != "bob" {
		t.Errorf("GetGroup after the upgrade = %+v, %v", g, err)
	}
	// The upgraded store takes writes and keeps its counts.
	if err := st.AddMember("Sales", "alice"); err == nil {
		t.Error("AddMember to an external group succeeded")
	}
	if _, err := st.AddGroup(Group{Name: "Locals"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddMember("Locals", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteUser("bob"); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestMigrate_DamagedV1StoreIsNotUpgraded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v1.db")
	writeV1Store(t, path)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("users")).Delete(u64(3)) }) // carol's record lost
	db.Close()
	before := fileSum(t, path)
	_, err = Open(path, nil)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a damaged schema-1 store = %v, want ErrCorrupt", err)
	}
	if fileSum(t, path) != before {
		t.Error("the damaged store was changed")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

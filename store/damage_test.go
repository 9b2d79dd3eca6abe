package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// buildRealStore makes a store the way usersync fills one: users imported
// from a directory in several runs, groups with many members (one of
// users*2/5), internal users and groups, roles and assignments. It returns
// the closed store's path.
func buildRealStore(t testing.TB, users int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "real.db")
	st, err := Open(path, &OpenOptions{BatchSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all := people(users)
	apply(t, st, Input{Users: all[:users/2], Options: allOn})
	var gis []GroupInput
	for g := range 8 {
		n := users/15 + 10*g
		if g == 0 {
			n = users * 2 / 5
		}
		lo := (g * users / 10) % (users - n)
		gis = append(gis, GroupInput{Read: groupRead(fmt.Sprintf("Group %d", g), all[lo:lo+n]...)})
	}
	apply(t, st, Input{Users: all, Groups: gis, Options: allOn})
	if err := st.AddRole(Role{Name: "Auditor", Description: "Reads the audit trail"}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustAddUser(t, st, User{Username: fmt.Sprintf("local%02d", i), Email: fmt.Sprintf("local%02d@example.com", i), Roles: []Assignment{{Role: "Viewer"}}})
	}
	if _, err := st.AddGroup(Group{Name: "Locals", Roles: []Assignment{{Role: "Editor", Scope: "project-x"}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := st.AddMember("Locals", fmt.Sprintf("local%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Assign("user000007", Assignment{Role: "Auditor", Scope: "finance"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetUserEnabled("user000009", false); err != nil {
		t.Fatal(err)
	}
	// A sync in which members left a group.
	apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Group 1", all[users/10:users/10+users/30]...)}}, Options: Options{AddNew: true, UpdateExisting: true, Force: true}})
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	return path
}

// dump reads everything the store shows a person — every list and every
// record by name, with members, groups, effective roles and journal
// entries — or the first error.
func dump(st *Store) (string, error) {
	var out []any
	users, err := st.ListUsers(UserFilter{})
	if err != nil {
		return "", err
	}
	out = append(out, users)
	for i, u := range users {
		if i%7 != 0 {
			continue // ListUsers showed them; a sample is read by name
		}
		got, err := st.GetUser(u.Username)
		if err != nil {
			return "", err
		}
		eff, err := st.EffectiveRoles(u.Username)
		if err != nil {
			return "", err
		}
		out = append(out, got, eff)
	}
	groups, err := st.ListGroups()
	if err != nil {
		return "", err
	}
	out = append(out, groups)
	for _, g := range groups {
		got, err := st.GetGroup(g.Name)
		if err != nil {
			return "", err
		}
		out = append(out, got)
	}
	roles, err := st.ListRoles()
	if err != nil {
		return "", err
	}
	runs, err := st.ListRuns()
	if err != nil {
		return "", err
	}
	out = append(out, roles, runs)
	for _, r := range runs {
		got, err := st.GetRun(r.ID)
		if err != nil {
			return "", err
		}
		out = append(out, got)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func fileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// damageOutcome is what happened to one damaged copy.
type damageOutcome int

const (
	refusedAtOpen damageOutcome = iota // Open found the pages damaged
	readsRefused                       // a read returned ErrCorrupt
	readsDiffered                      // reads returned other contents (then Verify must catch it)
	caughtByCheck                      // reads were right, Verify found damage
	harmless                           // the bits flipped were not in use
	numOutcomes
)

// examine puts a damaged copy through everything a command does to a
// store, in-process: a panic fails the test by crashing it.
func examine(t *testing.T, path, want string) damageOutcome {
	t.Helper()
	before := fileSum(t, path)
	unchanged := func(what string) {
		t.Helper()
		if fileSum(t, path) != before {
			t.Fatalf("%s changed the damaged file", what)
		}
	}
	rep, err := VerifyFile(path, nil)
	if err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	unchanged("VerifyFile")
	if !rep.OK() && !strings.Contains(rep.Err().Error(), path) {
		t.Errorf("the damage report does not name the file: %v", rep.Err())
	}

	outcome := harmless
	ro, err := Open(path, &OpenOptions{ReadOnly: true})
	switch {
	case err != nil:
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read-only Open = %v, want ErrCorrupt", err)
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "usersync store check") {
			t.Errorf("Open's error does not name the file and say what to do: %v", err)
		}
		outcome = refusedAtOpen
	default:
		got, err := dump(ro)
		ro.Close()
		switch {
		case err != nil && !errors.Is(err, ErrCorrupt):
			t.Fatalf("a read of the damaged store = %v, want ErrCorrupt", err)
		case err != nil:
			outcome = readsRefused
		case got != want:
			outcome = readsDiffered
		case !rep.OK():
			outcome = caughtByCheck
		}
	}
	unchanged("reading")
	if outcome != harmless && rep.OK() {
		t.Fatalf("damage went unnoticed by VerifyFile (outcome %d)", outcome)
	}

	// A write: refused, without a byte changed, unless the store is sound.
	rw, err := Open(path, nil)
	if err == nil {
		_, err = rw.AddUser(User{Username: "newcomer"})
		rw.Close()
	}
	if !rep.OK() {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("a write to a damaged store = %v, want ErrCorrupt", err)
		}
		unchanged("a refused write")
	} else if err != nil {
		t.Fatalf("a write to a store found sound = %v", err)
	}
	return outcome
}

func TestDamage_FlippedBitsAndTruncationsAreNeverBelievedNorWritten(t *testing.T) {
	t.Parallel()
	orig := buildRealStore(t, 800)
	original, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(orig, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	want, err := dump(st)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	seeds := 200
	if testing.Short() {
		seeds = 40
	}
	if n, err := strconv.Atoi(os.Getenv("USERSYNC_DAMAGE_SEEDS")); err == nil {
		seeds = n // a longer hunt
	}
	var outcomes [numOutcomes]int
	dir := t.TempDir()
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 13))
		b := bytes.Clone(original)
		var what string
		if seed%10 == 9 {
			n := 2*ps + rng.IntN(len(b)-2*ps)
			if seed%20 == 19 {
				n -= n % ps // a whole number of pages
			}
			b = b[:n]
			what = fmt.Sprintf("truncated to %d bytes", n)
		} else {
			for range 1 + rng.IntN(4) {
				off := 2*ps + rng.IntN(len(b)-2*ps)
				bit := rng.IntN(8)
				b[off] ^= 1 << bit
				what += fmt.Sprintf(" bit %d of byte %d (page %d +%d)", bit, off, off/ps, off%ps)
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("copy%03d.db", seed))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d:%s", seed, what)
			outcomes[examine(t, path, want)]++
		})
		os.Remove(path)
	}
	t.Logf("%d copies: %d refused at Open, %d reads refused, %d read differently (and were caught), %d caught by the check alone, %d harmless",
		seeds, outcomes[refusedAtOpen], outcomes[readsRefused], outcomes[readsDiffered], outcomes[caughtByCheck], outcomes[harmless])
	if outcomes[harmless] > seeds*3/4 {
		t.Errorf("%d of %d copies were harmless: the damage misses the store's pages", outcomes[harmless], seeds)
	}
}

// pagesOf lists the page ids of bucket name's tree in the file at path,
// root first, by reading the pages as checkPages does.
func pagesOf(t *testing.T, path string, name string) (branches, leaves []uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	db.View(func(tx *bolt.Tx) error { root = uint64(tx.Bucket([]byte(name)).Root()); return nil })
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := uint64(os.Getpagesize())
	var walk func(id uint64)
	walk = func(id uint64) {
		p := b[id*ps:]
		if ne.Uint16(p[8:]) == leafPage {
			leaves = append(leaves, id)
			return
		}
		branches = append(branches, id)
		for i := range int(ne.Uint16(p[10:])) {
			walk(ne.Uint64(p[pageHeaderSize+i*elementSize+8:])) // the child of branch element i
		}
	}
	walk(root)
	return branches, leaves
}

// The damage measured on main: a branch page of the members bucket that
// points elsewhere lost 23k of a group's 30k members, and the rest were
// printed as the group. Now Open refuses the file.
func TestDamage_LostBranchOfMembersIsRefusedAtOpen(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 1500)
	branches, leaves := pagesOf(t, path, "members")
	if len(branches) == 0 || len(leaves) < 3 {
		t.Fatalf("members has %d branch and %d leaf pages; the test needs a branch", len(branches), len(leaves))
	}
	b, _ := os.ReadFile(path)
	ps := uint64(os.Getpagesize())
	// The root's second child now points at its third: the pages of the
	// second are lost, the third is reached twice.
	p := b[branches[0]*ps+pageHeaderSize:]
	third := ne.Uint64(p[2*elementSize+8:])
	ne.PutUint64(p[elementSize+8:], third)
	os.WriteFile(path, b, 0o600)
	before := fileSum(t, path)

	_, err := Open(path, &OpenOptions{ReadOnly: true})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v, want ErrCorrupt naming the file", err)
	}
	if _, err := Open(path, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open to write = %v, want ErrCorrupt", err)
	}
	rep, err := VerifyFile(path, nil)
	if err != nil || rep.OK() {
		t.Fatalf("VerifyFile = %+v, %v; want problems", rep, err)
	}
	if fileSum(t, path) != before {
		t.Error("the damaged file changed")
	}
}

// A leaf page whose count lost a bit still looks like a leaf: the gap
// between its elements and its data gives it away at Open.
func TestDamage_LeafWhoseCountShrankIsRefusedAtOpen(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 800)
	_, leaves := pagesOf(t, path, "members")
	b, _ := os.ReadFile(path)
	ps := uint64(os.Getpagesize())
	p := b[leaves[0]*ps:]
	ne.PutUint16(p[10:], ne.Uint16(p[10:])-5)
	os.WriteFile(path, b, 0o600)
	if _, err := Open(path, &OpenOptions{ReadOnly: true}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not at") {
		t.Fatalf("Open = %v, want ErrCorrupt about the gap", err)
	}
}

// Entries lost from a sound tree — as if a page came back as an older
// version of itself — are caught by the counts: reads of the group
// refuse, and writes do not start.
func TestDamage_EntriesLostFromASoundTreeAreCaughtByCounts(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 800)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte("members")).Cursor()
		k, _ := c.Seek(u64(1)) // group 1, the first imported: Group 0
		for range 5 {
			if err := c.Delete(); err != nil {
				return err
			}
			k, _ = c.Seek(k)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)

	st, err := Open(path, &OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open: %v (the pages are sound)", err)
	}
	if _, err := st.ListGroups(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ListGroups = %v, want ErrCorrupt", err)
	}
	if g, err := st.GetGroup("Group 0"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "315 found, 320 counted") {
		t.Errorf("GetGroup = %d members, %v; want ErrCorrupt saying 315 of 320 were found", len(g.Members), err)
	}
	st.Close()
	rep, err := VerifyFile(path, nil)
	if err != nil || rep.OK() {
		t.Fatalf("VerifyFile = %+v, %v; want problems", rep, err)
	}
	rw, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.AddUser(User{Username: "x"}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("AddUser = %v, want ErrCorrupt saying nothing was written", err)
	}
	run, err := rw.Apply(context.Background(), Input{Source: "dc01", Users: people(3), Options: allOn}, nil)
	if !errors.Is(err, ErrCorrupt) || run != nil {
		t.Errorf("Apply = %v, %v; want ErrCorrupt and no run", run, err)
	}
	rw.Close()
	if fileSum(t, path) != before {
		t.Error("the damaged file changed")
	}
}

func TestDamage_TruncatedStoreIsDamagedNotAnotherFile(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 1500)
	b, _ := os.ReadFile(path)
	f, _ := os.Open(path)
	m, err := readMeta(f, int64(len(b)), path)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	used := int(m.pgid * m.pageSize) // the file may be longer: bbolt grows it ahead
	for _, n := range []int{used / 2, used - 1, 3 * os.Getpagesize()} {
		os.WriteFile(path, b[:n], 0o600)
		for _, ro := range []bool{true, false} {
			st, err := Open(path, &OpenOptions{ReadOnly: ro})
			if err == nil {
				st.Close()
			}
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), "truncated") {
				t.Errorf("Open of a store truncated to %d bytes (read-only %v) = %v, want ErrCorrupt saying it is truncated", n, ro, err)
			}
		}
		if got, _ := os.ReadFile(path); len(got) != n {
			t.Errorf("opening a truncated store changed its size to %d", len(got))
		}
	}
}

package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// metaOf reads the current meta of the store file at path.
func metaOf(t *testing.T, path string) boltMeta {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	m, err := readMeta(f, info.Size(), path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// requireSumsMatch fails unless the sums kept beside the store at path are
// those of the file's every page in use, as takeSums finds them.
func requireSumsMatch(t *testing.T, path string) {
	t.Helper()
	kept := loadSums(path)
	if kept == nil {
		t.Fatal("no page sums were kept beside the store")
	}
	m := metaOf(t, path)
	f, _ := os.Open(path)
	defer f.Close()
	now, err := takeSums(f, m)
	if err != nil {
		t.Fatal(err)
	}
	free := map[uint64]bool{}
	for _, id := range now.free {
		free[id] = true
	}
	if kept.txid != now.txid || len(kept.sums) != len(now.sums) {
		t.Fatalf("sums kept for transaction %d, %d pages; the file is at %d, %d pages", kept.txid, len(kept.sums), now.txid, len(now.sums))
	}
	for id := range now.sums {
		if !free[uint64(id)] && kept.sums[id] != now.sums[id] {
			t.Fatalf("page %d (in use) has sum %08x, %08x was kept", id, now.sums[id], kept.sums[id])
		}
	}
	if _, ok := kept.matches(f, m); !ok {
		t.Fatal("the sums kept do not match the file")
	}
}

// Every write keeps the sums of the pages it wrote: after imports in many
// batches, group syncs and single edits, the sums kept are the file's, and
// the next Store believes them (it walks no pages at Open).
func TestPageSums_KeptByEveryWriteAreTheFiles(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 800)
	requireSumsMatch(t, path)

	st, err := Open(path, &OpenOptions{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if st.sums == nil || st.pagesChecked != 0 {
		t.Fatalf("Open walked the pages of a store whose sums match (sums %v, pages checked at %d)", st.sums != nil, st.pagesChecked)
	}
	apply(t, st, Input{Users: people(1200), Options: allOn})
	mustAddUser(t, st, User{Username: "newcomer"})
	if st.sums == nil {
		t.Fatal("the writes dropped the sums")
	}
	st.Close()
	requireSumsMatch(t, path)
}

// The sums only ever spare a check: with sums beside it, a damaged copy is
// refused exactly as without (examine: never believed, never written),
// and a copy whose damage hit only free pages is written to.
func TestPageSums_DamagedCopiesAreRefusedWithTheirSums(t *testing.T) {
	t.Parallel()
	orig := buildRealStore(t, 800)
	original, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(sumsPath(orig))
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
	m := metaOf(t, orig)
	f, _ := os.Open(orig)
	taken, err := takeSums(f, m)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	free := map[int]bool{}
	for _, id := range taken.free {
		free[int(id)] = true
	}
	ps := int(m.pageSize)
	seeds := 60
	if testing.Short() {
		seeds = 20
	}
	dir := t.TempDir()
	var refused, spared int
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 29))
		b := bytes.Clone(original)
		var what string
		for range 1 + rng.IntN(3) {
			off := rng.IntN(int(m.pgid) * ps)
			if seed%4 == 3 && len(taken.free) > 0 { // a free page
				off = int(taken.free[rng.IntN(len(taken.free))])*ps + rng.IntN(ps)
			}
			bit := rng.IntN(8)
			b[off] ^= 1 << bit
			what += fmt.Sprintf(" bit %d of byte %d (page %d, free %v)", bit, off, off/ps, free[off/ps])
		}
		path := filepath.Join(dir, fmt.Sprintf("copy%03d.db", seed))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sumsPath(path), sums, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d:%s", seed, what)
			if examine(t, path, want) == harmless {
				spared++
			} else {
				refused++
			}
		})
		os.Remove(path)
		os.Remove(sumsPath(path))
	}
	t.Logf("%d copies with their sums: %d damaged and refused, %d harmless", seeds, refused, spared)
	if refused == 0 || spared == 0 {
		t.Errorf("%d refused, %d harmless: the test should see both", refused, spared)
	}
}

// A file changed after Open found its sums matching — before the first
// write — is checked in full by that write, and refused.
func TestPageSums_DamageAfterOpenIsFoundBeforeTheFirstWrite(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 300)
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.sums == nil {
		t.Fatal("Open did not believe the sums kept")
	}
	flipInValue(t, path, []byte("uid=user000123,ou=people"))
	before := fileSum(t, path)
	if _, err := st.AddUser(User{Username: "newcomer"}); !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte("nothing was written")) {
		t.Fatalf("AddUser = %v, want ErrCorrupt saying nothing was written", err)
	}
	if fileSum(t, path) != before {
		t.Error("the damaged file changed")
	}
	if _, err := os.Stat(sumsPath(path)); err == nil {
		t.Error("the sums of a store found damaged were kept")
	}
}

// Sums of another state of the file (an older one: the store was written
// since without them, or a backup was restored) say nothing: the store is
// checked in full, found sound, and written.
func TestPageSums_StaleSumsAreIgnoredNotBelieved(t *testing.T) {
	t.Parallel()
	path := buildRealStore(t, 300)
	old, err := os.ReadFile(sumsPath(path))
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, st, User{Username: "newcomer"})
	st.Close()
	os.WriteFile(sumsPath(path), old, 0o600)
	os.WriteFile(sumsPath(path)+".tmp", []byte("left by a crash"), 0o600)

	st, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.sums != nil {
		t.Fatal("Open believed the sums of another state")
	}
	mustAddUser(t, st, User{Username: "another"})
	st.Close()
	requireSumsMatch(t, path)
}

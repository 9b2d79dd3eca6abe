package demo

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// seededStore opens a new store in a temp dir and seeds it from a
// directory named dc01 on s.
func seededStore(t *testing.T, s *LDAPServer) (*store.Store, directory.Directory) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "usersync.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := openAdapter(t, adapterConfig(s))
	if err := Seed(context.Background(), st, d); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	return st, d
}

func TestDemoSeed_AnStarShowsImportedNewAndBlockedRows(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	st, d := seededStore(t, s)
	results := searchAll(t, d, "an*")
	statuses, err := st.Classify(d.Name(), results)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.State{
		GroupAnalysis: store.StateImported, UserImported: store.StateImported, "anisha": store.StateImported,
		UserNew: store.StateNew, UserDisabled: store.StateNew, "antrui": store.StateNew, "kevand": store.StateNew,
		UserBlocked: store.StateBlockedInternal,
	}
	got := map[string]store.State{}
	for i, e := range results {
		got[e.Name] = statuses[i].State
		if e.Name == UserBlocked && statuses[i].Reason != store.ReasonInternal {
			t.Errorf("%s: reason %q, want %q", e.Name, statuses[i].Reason, store.ReasonInternal)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("an* classified as\n%v\nwant\n%v", got, want)
	}

	// The synchronize row has a difference to show.
	for _, e := range results {
		if e.Name != UserImported {
			continue
		}
		diffs, err := st.Diff(d.Name(), e)
		if err != nil {
			t.Fatal(err)
		}
		if len(diffs) != 1 || diffs[0].Field != "email" || diffs[0].Store != earlierMail || diffs[0].Directory != e.Email {
			t.Errorf("Diff(%s) = %+v, want the email changed from %s", e.Name, diffs, earlierMail)
		}
	}
}

func TestDemoSeed_JournalsARealEarlierRun(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	st, _ := seededStore(t, s)
	runs, err := st.ListRuns()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d runs, want the one earlier import", len(runs))
	}
	run, err := st.GetRun(runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Source != "dc01" || run.Status != store.RunCompleted || run.Actor != SeedActor || !strings.Contains(run.Command, "--select "+GroupAnalysis) {
		t.Errorf("run: %+v", run)
	}
	if run.Counts.Created != 7 || run.Counts.Failed != 0 {
		t.Errorf("run counts %+v, want the group and its 6 members created", run.Counts)
	}

	g, err := st.GetGroup(GroupAnalysis)
	if err != nil {
		t.Fatal(err)
	}
	if want := oracleMembers(t, GroupAnalysis); !reflect.DeepEqual(sortedFold(g.Members), sortedFold(want)) {
		t.Errorf("Analysis members in the store %q, want %q", g.Members, want)
	}
	if g.Kind != store.External || g.Source != "dc01" || g.ExternalID != nameUUID("group", GroupAnalysis) {
		t.Errorf("Analysis in the store: %+v", g)
	}
	u, err := st.GetUser(UserImported)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Enabled || u.Kind != store.External || u.ExternalID != nameUUID("person", UserImported) {
		t.Errorf("%s in the store: %+v", UserImported, u)
	}
	roles, err := st.EffectiveRoles(UserImported)
	if err != nil || len(roles) != 1 || roles[0].Role != "Analyst" || roles[0].Via != GroupAnalysis {
		t.Errorf("%s's roles: %+v, %v; want Analyst via %s", UserImported, roles, err, GroupAnalysis)
	}
	internal, err := st.GetUser(InternalBlocker)
	if err != nil || internal.Kind != store.Internal || internal.DisplayName != "Andrei Aandrei" {
		t.Errorf("%s: %+v, %v", InternalBlocker, internal, err)
	}
	if err := st.Check(); err != nil {
		t.Errorf("the seeded store is not consistent: %v", err)
	}
}

func TestDemoSeed_RefusesAStoreWithUsers(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	st, d := seededStore(t, s)
	err := Seed(context.Background(), st, d)
	if err == nil || !strings.Contains(err.Error(), "already has") {
		t.Fatalf("second Seed: %v", err)
	}
	if errors.Is(err, store.ErrExists) {
		t.Fatalf("second Seed got as far as adding: %v", err)
	}
}

func sortedFold(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	slices.Sort(out)
	return out
}

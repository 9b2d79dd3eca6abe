package demo

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	ldapdemo "github.com/usersync/usersync/directory/demo"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// seededStore opens a new store in a temp dir and seeds it from a
// directory named dc01 on s.
func seededStore(t *testing.T, s *ldapdemo.LDAPServer) (*store.Store, directory.Directory) {
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
	s := startServer(t)
	st, d := seededStore(t, s)
	results := searchAll(t, d, "an*")
	statuses, err := st.Classify(d.Name(), results)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.State{
		ldapdemo.GroupAnalysis: store.StateImported, ldapdemo.UserImported: store.StateImported, "anisha": store.StateImported,
		ldapdemo.UserNew: store.StateNew, ldapdemo.UserDisabled: store.StateNew, "antrui": store.StateNew, "kevand": store.StateNew,
		ldapdemo.UserBlocked: store.StateBlockedInternal,
	}
	got := map[string]store.State{}
	for i, e := range results {
		got[e.Name] = statuses[i].State
		if e.Name == ldapdemo.UserBlocked && statuses[i].Reason != store.ReasonInternal {
			t.Errorf("%s: reason %q, want %q", e.Name, statuses[i].Reason, store.ReasonInternal)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("an* classified as\n%v\nwant\n%v", got, want)
	}

	// The synchronize row has a difference to show.
	for _, e := range results {
		if e.Name != ldapdemo.UserImported {
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
	s := startServer(t)
	st, d := seededStore(t, s)
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
	if run.Source != "dc01" || run.Status != store.RunCompleted || run.Actor != SeedActor || !strings.Contains(run.Command, "--select "+ldapdemo.GroupAnalysis) {
		t.Errorf("run: %+v", run)
	}
	if run.Counts.Created != 7 || run.Counts.Failed != 0 {
		t.Errorf("run counts %+v, want the group and its 6 members created", run.Counts)
	}

	g, err := st.GetGroup(ldapdemo.GroupAnalysis)
	if err != nil {
		t.Fatal(err)
	}
	read, err := d.ReadGroup(context.Background(), g.ExternalID)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range read.Members {
		want = append(want, m.Name)
	}
	if !reflect.DeepEqual(sortedFold(g.Members), sortedFold(want)) || len(want) != 6 {
		t.Errorf("Analysis members in the store %q, want %q", g.Members, want)
	}
	if g.Kind != store.External || g.Source != "dc01" || g.Import == nil || !g.Import.Enable {
		t.Errorf("Analysis in the store: %+v", g)
	}
	u, err := st.GetUser(ldapdemo.UserImported)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Enabled || u.Kind != store.External || u.ExternalID == "" {
		t.Errorf("%s in the store: %+v", ldapdemo.UserImported, u)
	}
	roles, err := st.EffectiveRoles(ldapdemo.UserImported)
	if err != nil || len(roles) != 1 || roles[0].Role != "Analyst" || roles[0].Via != ldapdemo.GroupAnalysis {
		t.Errorf("%s's roles: %+v, %v; want Analyst via %s", ldapdemo.UserImported, roles, err, ldapdemo.GroupAnalysis)
	}
	internal, err := st.GetUser(ldapdemo.InternalBlocker)
	if err != nil || internal.Kind != store.Internal || internal.DisplayName != "Andrei Aandrei" {
		t.Errorf("%s: %+v, %v", ldapdemo.InternalBlocker, internal, err)
	}
	if err := st.Check(); err != nil {
		t.Errorf("the seeded store is not consistent: %v", err)
	}
}

func TestDemoSeed_RefusesAStoreWithUsers(t *testing.T) {
	t.Parallel()
	s := startServer(t)
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

// startServer starts the demo LDAP server for one test.
func startServer(t testing.TB) *ldapdemo.LDAPServer {
	t.Helper()
	s, err := ldapdemo.StartLDAP(ldapdemo.Options{})
	if err != nil {
		t.Fatalf("StartLDAP: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// adapterConfig is how usersync's configuration names the server.
func adapterConfig(s *ldapdemo.LDAPServer) ldap.Config {
	return ldap.Config{
		Name: "dc01", URL: s.URL(), StartTLS: s.StartTLS(), BaseDN: s.Suffix(),
		BindDN: s.BindDN(), Password: s.BindPassword(), CAFile: s.CAFile(),
		Flavor: ldap.FlavorOpenLDAP, Timeout: ldap.Duration{Duration: 10 * time.Second},
	}
}

// openAdapter opens the real directory/ldap adapter on cfg.
func openAdapter(t testing.TB, cfg ldap.Config) *ldap.Directory {
	t.Helper()
	d, err := ldap.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("ldap.Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// searchAll runs query through the adapter and returns every entry.
func searchAll(t testing.TB, d directory.Directory, query string) []directory.Entry {
	t.Helper()
	var out []directory.Entry
	if err := d.Search(context.Background(), query, func(e directory.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("search %q: %v", query, err)
	}
	return out
}

// The demo's large group: Retail, with its 3000 members read from dc01 at
// the server's pace and imported into a store opened as `usersync demo`
// opens its own (StoreOptions): the progress is reported batch by batch
// for seconds — long enough to watch and to cancel — and two members fail
// with the reason why, so the report has a Failed section.
func TestDemoRetail_ImportsAtAWatchablePaceWithTwoFailures(t *testing.T) {
	t.Parallel()
	dirs, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dirs.Close)
	st, err := store.Open(filepath.Join(t.TempDir(), "usersync.db"), &StoreOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := openAdapter(t, adapterConfig(dirs.LDAP))
	if err := Seed(context.Background(), st, d); err != nil {
		t.Fatalf("Seed: %v", err)
	}

	found := searchAll(t, d, ldapdemo.GroupRetail)
	if len(found) != 1 || found[0].Type != directory.TypeGroup || found[0].MemberCount != ldapdemo.RetailMembers {
		t.Fatalf("search %s: %+v, want one group of %d members", ldapdemo.GroupRetail, found, ldapdemo.RetailMembers)
	}
	req := importer.LDAP{Server: d.Name(), Query: ldapdemo.GroupRetail, Select: importer.Names{ldapdemo.GroupRetail}}
	in := store.Input{Source: d.Name(), Actor: "tester", Command: req.CommandLine(), Options: req.Options()}
	start := time.Now()
	p, err := importer.Prepare(context.Background(), st, d, in, found)
	if err != nil {
		t.Fatal(err)
	}
	// dc01 pauses Latency per hundred entries it sends.
	if read, least := time.Since(start), ldapdemo.RetailMembers/100*Latency; read < least {
		t.Errorf("reading %s took %s, want at least %s (dc01's pace)", ldapdemo.GroupRetail, read, least)
	}

	var reports []store.Progress
	start = time.Now()
	run, err := p.Apply(context.Background(), st, func(pr store.Progress) { reports = append(reports, pr) })
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunCompleted || run.Counts.Created != ldapdemo.RetailMembers-1 || run.Counts.Failed != 2 {
		t.Fatalf("run %s, counts %+v; want completed: the group and %d members created, 2 failed",
			run.Status, run.Counts, ldapdemo.RetailMembers-2)
	}
	batches := (ldapdemo.RetailMembers + 1 + StoreOptions.BatchSize - 1) / StoreOptions.BatchSize
	if len(reports) != batches || took < time.Duration(batches)*StoreOptions.BatchPause || took < 5*time.Second {
		t.Errorf("%d progress reports in %s, want %d, one per batch, over at least 5s", len(reports), took, batches)
	}

	want := map[string]string{
		ldapdemo.RetailBadUsernames[0]: `username "li wei" is not allowed: U+0020 SPACE at position 3`,
		ldapdemo.RetailBadUsernames[1]: `username "mei.chen\u200b" is not allowed: U+200B ZERO WIDTH SPACE at position 9`,
	}
	got := map[string]string{}
	for _, e := range run.Entries {
		if e.Action == store.ActionFailed {
			got[e.Name] = e.Reason
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("failed entries %q, want %q", got, want)
	}
	g, err := st.GetGroup(ldapdemo.GroupRetail)
	if err != nil || len(g.Members) != ldapdemo.RetailMembers-2 {
		t.Errorf("%s in the store: %d members, %v; want %d", ldapdemo.GroupRetail, len(g.Members), err, ldapdemo.RetailMembers-2)
	}
}

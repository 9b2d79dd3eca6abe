package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
)

// want is what a rule test expects of one entry.
type want struct {
	action Action
	block  Block
	reason string // a part of the reason ("" to not check)
}

func TestApply_UserRules(t *testing.T) {
	t.Parallel()
	renamed := person("bob")
	renamed.Name = "carol"
	changed := person("bob")
	changed.DisplayName = "Robert"
	disabled := person("bob")
	disabled.Disabled = true
	noExt := person("nox")
	noExt.ExternalID = ""
	noEmail := person("dora")
	noEmail.Email = ""
	otherExt := person("bob")
	otherExt.ExternalID = "another-bob"
	shouty := person("AAndrei")
	byEmail := person("jdoe")
	byEmail.Email = "JANE@corp.example"
	group := person("Sales")
	group.Type = directory.TypeGroup

	tests := []struct {
		name  string
		setup func(t *testing.T, st *Store) // before the import
		opts  Options
		entry directory.Entry
		want  want
		after func(t *testing.T, st *Store)
	}{
		{
			name: "new user is created enabled when Enable", opts: allOn, entry: person("bob"),
			want: want{action: ActionCreated},
			after: func(t *testing.T, st *Store) {
				u := mustUser(t, st, "bob")
				if !u.Enabled || u.Kind != External || u.Source != "dc01" || u.ExternalID != "ext-bob" || u.Email != "bob@example.com" || u.DN == "" || u.Synced.IsZero() {
					t.Errorf("created user = %+v", u)
				}
			},
		},
		{
			name: "Enable off creates the user disabled", opts: Options{AddNew: true}, entry: person("bob"),
			want: want{action: ActionCreated},
			after: func(t *testing.T, st *Store) {
				if mustUser(t, st, "bob").Enabled {
					t.Error("created enabled with Enable off")
				}
			},
		},
		{
			name: "disabled in the directory is stored disabled", opts: allOn, entry: disabled,
			want: want{action: ActionCreated, reason: "disabled in the directory"},
			after: func(t *testing.T, st *Store) {
				if mustUser(t, st, "bob").Enabled {
					t.Error("a user disabled in the directory was created enabled")
				}
			},
		},
		{
			name: "AddNew off skips new users", opts: Options{UpdateExisting: true}, entry: person("bob"),
			want: want{action: ActionSkipped, reason: "adding new users not selected"},
			after: func(t *testing.T, st *Store) {
				if _, err := st.GetUser("bob"); !errors.Is(err, ErrNotFound) {
					t.Errorf("skipped user exists: %v", err)
				}
			},
		},
		{
			name: "case-folded collision with an internal user is blocked",
			setup: func(t *testing.T, st *Store) {
				mustAddUser(t, st, User{Username: "aandrei", DisplayName: "Internal Andrei", Enabled: true})
			},
			opts: allOn, entry: shouty,
			want: want{action: ActionSkipped, block: BlockedInternal, reason: ReasonInternal},
			after: func(t *testing.T, st *Store) {
				u := mustUser(t, st, "aandrei")
				if u.Kind != Internal || u.DisplayName != "Internal Andrei" || u.Username != "aandrei" {
					t.Errorf("the internal user was touched: %+v", u)
				}
			},
		},
		{
			name: "username taken by another source's user is blocked",
			setup: func(t *testing.T, st *Store) {
				apply(t, st, Input{Source: "dc02", Users: []directory.Entry{otherExt}, Options: allOn})
			},
			opts: allOn, entry: person("BOB"),
			want: want{action: ActionSkipped, block: BlockedSource, reason: "Username already taken by a user from dc02"},
		},
		{
			name:  "username taken by another user of the same source is blocked",
			setup: func(t *testing.T, st *Store) { importUsers(t, st, allOn, otherExt) },
			opts:  allOn, entry: person("bob"),
			want: want{action: ActionSkipped, block: BlockedSource, reason: "Username already taken by a user from dc01"},
		},
		{
			name: "missing external ID fails", opts: allOn, entry: noExt,
			want: want{action: ActionFailed, reason: "no external ID"},
		},
		{
			name: "invalid username fails", opts: allOn,
			entry: directory.Entry{Type: directory.TypeUser, ExternalID: "x", Name: " bob"},
			want:  want{action: ActionFailed, reason: "leading or trailing space"},
		},
		{
			name: "empty username fails", opts: allOn,
			entry: directory.Entry{Type: directory.TypeUser, ExternalID: "x"},
			want:  want{action: ActionFailed, reason: "empty username"},
		},
		{
			name: "RequireEmail fails a user without email", opts: Options{AddNew: true, RequireEmail: true}, entry: noEmail,
			want: want{action: ActionFailed, reason: "no email address"},
		},
		{
			name: "RequireEmail accepts a user with email", opts: Options{AddNew: true, RequireEmail: true}, entry: person("bob"),
			want: want{action: ActionCreated},
		},
		{
			name: "a group among the users fails", opts: allOn, entry: group,
			want: want{action: ActionFailed, reason: "a group, not a user"},
		},
		{
			name:  "re-import of the same entry is unchanged",
			setup: func(t *testing.T, st *Store) { importUsers(t, st, allOn, person("bob")) },
			opts:  allOn, entry: person("bob"),
			want: want{action: ActionUnchanged},
		},
		{
			name:  "re-import with changes updates",
			setup: func(t *testing.T, st *Store) { importUsers(t, st, allOn, person("bob")) },
			opts:  allOn, entry: changed,
			want: want{action: ActionUpdated, reason: "display_name"},
			after: func(t *testing.T, st *Store) {
				if u := mustUser(t, st, "bob"); u.DisplayName != "Robert" {
					t.Errorf("display name = %q", u.DisplayName)
				}
			},
		},
		{
			name:  "UpdateExisting off skips changed users",
			setup: func(t *testing.T, st *Store) { importUsers(t, st, allOn, person("bob")) },
			opts:  Options{AddNew: true}, entry: changed,
			want: want{action: ActionSkipped, reason: "updating existing users not selected"},
			after: func(t *testing.T, st *Store) {
				if u := mustUser(t, st, "bob"); u.DisplayName != "Display bob" {
					t.Errorf("display name changed to %q", u.DisplayName)
				}
			},
		},
		{
			name:  "a rename follows the directory",
			setup: func(t *testing.T, st *Store) { importUsers(t, st, allOn, person("bob")) },
			opts:  allOn, entry: renamed,
			want: want{action: ActionUpdated, reason: "username"},
			after: func(t *testing.T, st *Store) {
				mustUser(t, st, "carol")
				if _, err := st.GetUser("bob"); !errors.Is(err, ErrNotFound) {
					t.Errorf("old name still found: %v", err)
				}
			},
		},
		{
			name: "a rename colliding with another user fails",
			setup: func(t *testing.T, st *Store) {
				importUsers(t, st, allOn, person("bob"))
				mustAddUser(t, st, User{Username: "Carol"})
			},
			opts: allOn, entry: renamed,
			want: want{action: ActionFailed, reason: "cannot rename bob to carol: the username is taken by an internal user"},
			after: func(t *testing.T, st *Store) {
				if u := mustUser(t, st, "bob"); u.ExternalID != "ext-bob" {
					t.Errorf("bob = %+v", u)
				}
				if u := mustUser(t, st, "carol"); u.Kind != Internal {
					t.Errorf("carol = %+v", u)
				}
			},
		},
		{
			name:  "disabled in the directory disables on update",
			setup: func(t *testing.T, st *Store) { importUsers(t, st, allOn, person("bob")) },
			opts:  Options{UpdateExisting: true}, entry: disabled,
			want: want{action: ActionUpdated, reason: "enabled"},
			after: func(t *testing.T, st *Store) {
				if mustUser(t, st, "bob").Enabled {
					t.Error("still enabled")
				}
			},
		},
		{
			name: "Enable off keeps a user the admin disabled",
			setup: func(t *testing.T, st *Store) {
				importUsers(t, st, allOn, person("bob"))
				st.SetUserEnabled("bob", false)
			},
			opts: Options{UpdateExisting: true}, entry: person("bob"),
			want: want{action: ActionUnchanged},
			after: func(t *testing.T, st *Store) {
				if mustUser(t, st, "bob").Enabled {
					t.Error("re-enabled without Enable")
				}
			},
		},
		{
			name: "Enable on enables on update",
			setup: func(t *testing.T, st *Store) {
				importUsers(t, st, Options{AddNew: true}, person("bob"))
			},
			opts: allOn, entry: person("bob"),
			want: want{action: ActionUpdated, reason: "enabled"},
			after: func(t *testing.T, st *Store) {
				if !mustUser(t, st, "bob").Enabled {
					t.Error("not enabled")
				}
			},
		},
		{
			name: "match by email links the existing user",
			setup: func(t *testing.T, st *Store) {
				mustAddUser(t, st, User{Username: "jane", Email: "jane@corp.example", Enabled: true, Roles: []Assignment{{Role: "Editor"}}})
			},
			opts: Options{AddNew: true, UpdateExisting: true, MatchByEmail: true}, entry: byEmail,
			want: want{action: ActionUpdated, reason: "linked to existing user jane by email"},
			after: func(t *testing.T, st *Store) {
				u := mustUser(t, st, "jane")
				if u.Kind != External || u.Source != "dc01" || u.ExternalID != "ext-jdoe" || u.DisplayName != "Display jdoe" {
					t.Errorf("linked user = %+v", u)
				}
				if !slices.Equal(u.Roles, []Assignment{{"Editor", GlobalScope}}) {
					t.Errorf("linking changed roles: %v", u.Roles)
				}
				if _, err := st.GetUser("jdoe"); !errors.Is(err, ErrNotFound) {
					t.Error("a second user was created")
				}
				// Importing again keeps the application's username.
				in := Input{Source: "dc01", Users: []directory.Entry{byEmail}, Options: Options{AddNew: true, UpdateExisting: true, MatchByEmail: true}}
				run, err := st.Apply(context.Background(), in, nil)
				if err != nil || run.Counts.Unchanged != 1 {
					t.Errorf("re-import of a linked user: %v %+v", err, run)
				}
				if d, err := st.Diff("dc01", byEmail); err != nil || len(d) != 0 {
					t.Errorf("a linked user differs: %v %+v", err, d)
				}
				mustUser(t, st, "jane")
			},
		},
		{
			name: "match by email without UpdateExisting skips",
			setup: func(t *testing.T, st *Store) {
				mustAddUser(t, st, User{Username: "jane", Email: "jane@corp.example"})
			},
			opts: Options{AddNew: true, MatchByEmail: true}, entry: byEmail,
			want: want{action: ActionSkipped, reason: "matches existing user jane by email; updating not selected"},
			after: func(t *testing.T, st *Store) {
				if u := mustUser(t, st, "jane"); u.Kind != Internal {
					t.Errorf("jane was linked: %+v", u)
				}
			},
		},
		{
			name: "match by email off creates a new user",
			setup: func(t *testing.T, st *Store) {
				mustAddUser(t, st, User{Username: "jane", Email: "jane@corp.example"})
			},
			opts: allOn, entry: byEmail,
			want: want{action: ActionCreated},
			after: func(t *testing.T, st *Store) {
				if u := mustUser(t, st, "jane"); u.Kind != Internal {
					t.Errorf("jane was linked: %+v", u)
				}
				mustUser(t, st, "jdoe")
			},
		},
		{
			name: "an email several users share fails",
			setup: func(t *testing.T, st *Store) {
				mustAddUser(t, st, User{Username: "jane", Email: "jane@corp.example"})
				mustAddUser(t, st, User{Username: "jane2", Email: "Jane@Corp.Example"})
			},
			opts: Options{AddNew: true, UpdateExisting: true, MatchByEmail: true}, entry: byEmail,
			want: want{action: ActionFailed, reason: "ambiguous"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := openTest(t, nil)
			if tt.setup != nil {
				tt.setup(t, st)
			}
			in := Input{Source: "dc01", Users: []directory.Entry{tt.entry}, Options: tt.opts}
			plan, err := st.Plan(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			run := apply(t, st, in)
			for _, r := range []*Run{plan, run} {
				if len(r.Entries) != 1 {
					t.Fatalf("%s: entries %+v, want one", r.Status, r.Entries)
				}
				got := r.Entries[0]
				if got.Action != tt.want.action || got.Block != tt.want.block || !strings.Contains(got.Reason, tt.want.reason) {
					t.Errorf("%s: entry %+v, want %+v", r.Status, got, tt.want)
				}
			}
			if run.Status != RunCompleted {
				t.Errorf("run status %s, want completed", run.Status)
			}
			if tt.after != nil {
				tt.after(t, st)
			}
		})
	}
}

func TestApply_ReimportKeepsRoleAssignments(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	importUsers(t, st, Options{AddNew: true, UpdateExisting: true, Roles: []Assignment{{Role: "viewer"}}}, person("bob"))
	if err := st.Assign("bob", Assignment{Role: "Editor", Scope: "project-x"}); err != nil {
		t.Fatal(err)
	}
	changed := person("bob")
	changed.DisplayName, changed.Email = "Robert", "robert@example.com"
	run := importUsers(t, st, Options{AddNew: true, UpdateExisting: true, Roles: []Assignment{{Role: "Administrator"}}, CopyRolesFrom: ""}, changed)
	if e := entryOf(t, run, "bob"); e.Action != ActionUpdated {
		t.Fatalf("re-import: %+v", e)
	}
	u := mustUser(t, st, "bob")
	want := []Assignment{{"Viewer", GlobalScope}, {"Editor", "project-x"}}
	if !slices.Equal(u.Roles, want) {
		t.Errorf("roles after re-import = %v, want %v", u.Roles, want)
	}
	if u.DisplayName != "Robert" || u.Email != "robert@example.com" {
		t.Errorf("directory fields not refreshed: %+v", u)
	}
}

func TestApply_NewSelectedEntriesGetRolesAndCopiedRoles(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "mentor", Roles: []Assignment{{Role: "Editor", Scope: "project-x"}, {Role: "Viewer"}}})
	opts := allOn
	opts.Roles = []Assignment{{Role: "viewer"}} // duplicate of a copied one, spelled differently
	opts.CopyRolesFrom = "MENTOR"
	run := apply(t, st, Input{
		Users:   []directory.Entry{person("bob")},
		Groups:  []GroupInput{{Read: groupRead("Sales", person("carol"))}},
		Options: opts,
	})
	if run.Counts.Created != 3 {
		t.Fatalf("counts %+v, want 3 created", run.Counts)
	}
	want := []Assignment{{"Viewer", GlobalScope}, {"Editor", "project-x"}}
	if got := mustUser(t, st, "bob").Roles; !slices.Equal(got, want) {
		t.Errorf("selected user's roles = %v, want %v", got, want)
	}
	g, err := st.GetGroup("sales")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Roles, want) {
		t.Errorf("selected group's roles = %v, want %v", g.Roles, want)
	}
	if got := mustUser(t, st, "carol").Roles; len(got) != 0 {
		t.Errorf("a member imported through its group got direct roles %v", got)
	}
	eff, err := st.EffectiveRoles("carol")
	if err != nil {
		t.Fatal(err)
	}
	if len(eff) != 2 || eff[0].Via != "Sales" {
		t.Errorf("member's effective roles = %+v, want the group's", eff)
	}
}

func TestPlanAndApply_UnknownRoleOrCopyFromUserIsAnError(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	for _, opts := range []Options{
		{AddNew: true, Roles: []Assignment{{Role: "Overlord"}}},
		{AddNew: true, CopyRolesFrom: "nobody"},
	} {
		in := Input{Source: "dc01", Users: []directory.Entry{person("bob")}, Options: opts}
		if _, err := st.Plan(context.Background(), in); !errors.Is(err, ErrNotFound) {
			t.Errorf("Plan with %+v: %v, want ErrNotFound", opts, err)
		}
		if run, err := st.Apply(context.Background(), in, nil); !errors.Is(err, ErrNotFound) || run != nil {
			t.Errorf("Apply with %+v: %v %v, want ErrNotFound and no run", opts, run, err)
		}
	}
	if runs, _ := st.ListRuns(); len(runs) != 0 || countUsers(t, st) != 0 {
		t.Errorf("a refused import wrote: runs %v", runs)
	}
}

func TestPlan_WritesNothingAndAgreesWithApply(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "aandrei"})
	importUsers(t, st, allOn, person("old"), person("same"))
	old := person("old")
	old.DisplayName = "changed"
	dupCase := person("Newbie")
	dupCase.ExternalID = "other-newbie"
	in := Input{Source: "dc01", Options: allOn, Users: []directory.Entry{
		person("AAndrei"), old, person("same"), person("newbie"), dupCase, {Type: directory.TypeUser, Name: "noext"},
	}, Groups: []GroupInput{{Read: groupRead("Team", person("same"), person("member"))}}}
	before, _ := st.ListUsers(UserFilter{})
	plan, err := st.Plan(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Status != RunPlanned || plan.ID != 0 {
		t.Errorf("plan status %s id %d", plan.Status, plan.ID)
	}
	after, _ := st.ListUsers(UserFilter{})
	if len(after) != len(before) {
		t.Fatalf("Plan changed the store: %d users → %d", len(before), len(after))
	}
	if runs, _ := st.ListRuns(); len(runs) != 1 {
		t.Fatalf("Plan journaled a run: %v", runs)
	}
	run := apply(t, st, in)
	if plan.Counts != run.Counts {
		t.Errorf("plan counts %+v, apply counts %+v", plan.Counts, run.Counts)
	}
	if !slices.Equal(plan.Entries, run.Entries) {
		t.Errorf("plan entries differ from apply's:\nplan  %+v\napply %+v", plan.Entries, run.Entries)
	}
	// The second entry folding like an earlier one of the same input is blocked by it.
	if e := entryOf(t, run, "Newbie"); e.Block != BlockedSource {
		t.Errorf("Newbie = %+v, want blocked by newbie of the same input", e)
	}
	want := Counts{Created: 3, Updated: 2, Unchanged: 0, Skipped: 2, Failed: 1}
	if run.Counts != want {
		t.Errorf("counts %+v, want %+v", run.Counts, want)
	}
}

func TestApply_DuplicateEntriesAreImportedOnce(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	in := Input{Users: []directory.Entry{person("bob"), person("bob")},
		Groups:  []GroupInput{{Read: groupRead("A", person("bob"))}, {Read: groupRead("B", person("bob"))}},
		Options: allOn}
	run := apply(t, st, in)
	if run.Counts.Created != 3 || len(run.Entries) != 3 {
		t.Errorf("entries %+v, want bob and two groups once each", run.Entries)
	}
	if u := mustUser(t, st, "bob"); !slices.Equal(u.Groups, []string{"A", "B"}) || len(u.Roles) != 0 {
		t.Errorf("bob = %+v", u)
	}
}

func TestApply_JournalIsTheReturnedRun(t *testing.T) {
	t.Parallel()
	st := openTest(t, &OpenOptions{BatchSize: 3})
	in := Input{Source: "dc01", Actor: "alice", Command: "usersync import ldap --yes", Users: people(10), Options: allOn}
	var calls []Progress
	run, err := st.Apply(context.Background(), in, func(p Progress) { calls = append(calls, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 4 || calls[3].Done != 10 || calls[3].Total != 10 || calls[0].Counts.Created != 3 || calls[0].Current != "user000002" {
		t.Errorf("progress calls %+v", calls)
	}
	got, err := st.GetRun(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != RunCompleted || got.Actor != "alice" || got.Command != in.Command || got.Source != "dc01" || got.Finished.IsZero() {
		t.Errorf("journaled run %+v", got)
	}
	if got.Counts != run.Counts || !slices.Equal(got.Entries, run.Entries) {
		t.Errorf("journal differs from the returned run")
	}
	opts, err := st.RunOptions(run.ID)
	if err != nil || !opts.Enable || !opts.AddNew {
		t.Errorf("RunOptions = %+v, %v", opts, err)
	}
	runs, _ := st.ListRuns()
	if len(runs) != 1 || len(runs[0].Entries) != 0 || runs[0].Counts.Created != 10 {
		t.Errorf("ListRuns = %+v", runs)
	}
	if _, err := st.GetRun(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun(99) = %v, want ErrNotFound", err)
	}
}

func TestApply_CancelBetweenBatchesInterruptsAndRerunCompletes(t *testing.T) {
	t.Parallel()
	st := openTest(t, &OpenOptions{BatchSize: 10})
	ctx, cancel := context.WithCancel(context.Background())
	in := Input{Source: "dc01", Users: people(100), Options: allOn}
	run, err := st.Apply(ctx, in, func(p Progress) {
		if p.Done == 30 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != RunInterrupted || run.Counts.Created != 30 || run.Finished.IsZero() {
		t.Fatalf("cancelled run: status %s counts %+v", run.Status, run.Counts)
	}
	if n := countUsers(t, st); n != 30 {
		t.Fatalf("%d users after cancelling after three batches, want 30", n)
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	again := apply(t, st, in)
	if again.Status != RunCompleted || again.Counts.Unchanged != 30 || again.Counts.Created != 70 {
		t.Errorf("re-run: status %s counts %+v, want 30 unchanged and 70 created", again.Status, again.Counts)
	}
	if n := countUsers(t, st); n != 100 {
		t.Errorf("%d users after the re-run, want 100", n)
	}
	if _, err := st.Apply(ctx, in, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context = %v", err)
	}
}

// BatchPause paces an apply batch by batch, and a cancel ends a pause at
// once: the run is interrupted with the batches written before it.
func TestApply_BatchPausePacesAndCancelEndsThePause(t *testing.T) {
	t.Parallel()
	const pause = 20 * time.Millisecond
	st := openTest(t, &OpenOptions{BatchSize: 10, BatchPause: pause})
	var times []time.Duration
	start := time.Now()
	run, err := st.Apply(context.Background(), Input{Source: "dc01", Users: people(30), Options: allOn}, func(p Progress) {
		times = append(times, time.Since(start))
	})
	if err != nil || run.Status != RunCompleted || run.Counts.Created != 30 {
		t.Fatalf("paced apply: %v, %+v", err, run)
	}
	if len(times) != 3 {
		t.Fatalf("%d progress reports, want one per batch of 10", len(times))
	}
	for i, d := range times {
		if least := time.Duration(i+1) * pause; d < least {
			t.Errorf("batch %d written after %s, before its pauses (%s)", i+1, d, least)
		}
	}

	slow := openTest(t, &OpenOptions{BatchSize: 10, BatchPause: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	run, err = slow.Apply(ctx, Input{Source: "dc01", Users: people(30), Options: allOn}, nil)
	if err != nil || run.Status != RunInterrupted || run.Counts.Created != 0 {
		t.Fatalf("apply cancelled in its first pause: %v, %+v", err, run)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the cancel ended the pause after %s", took)
	}
}

func TestApply_InvalidInputIsAnError(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	for _, in := range []Input{
		{Users: people(1)},
		{Source: "dc\x0001", Users: people(1)},
		{Source: "dc01", Groups: []GroupInput{{}}},
	} {
		if _, err := st.Apply(context.Background(), in, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Apply(%+v) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestClassify_TellsWhatSelectingWouldDo(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "aandrei"})
	if _, err := st.AddGroup(Group{Name: "Admins"}); err != nil {
		t.Fatal(err)
	}
	importUsers(t, st, allOn, person("bob"))
	apply(t, st, Input{Source: "dc02", Users: []directory.Entry{person("anders")}, Groups: []GroupInput{{Read: groupRead("Ops")}}, Options: allOn})
	apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales")}}, Options: allOn})
	grp := func(name string) directory.Entry { return groupRead(name).Group }
	tests := []struct {
		e    directory.Entry
		want Status
	}{
		{person("new"), Status{State: StateNew}},
		{person("bob"), Status{State: StateImported, Existing: "bob"}},
		{person("AAndrei"), Status{State: StateBlockedInternal, Reason: ReasonInternal, Existing: "aandrei"}},
		{person("Anders"), Status{State: StateBlockedSource, Reason: "Username already taken by a user from dc02", Existing: "anders"}},
		{grp("Sales"), Status{State: StateImported, Existing: "Sales"}},
		{grp("admins"), Status{State: StateBlockedInternal, Reason: "Group name already exists as an internal group", Existing: "Admins"}},
		{grp("OPS"), Status{State: StateBlockedSource, Reason: "Group name already taken by a group from dc02", Existing: "Ops"}},
		{grp("Fresh"), Status{State: StateNew}},
	}
	entries := make([]directory.Entry, len(tests))
	for i, tt := range tests {
		entries[i] = tt.e
	}
	got, err := st.Classify("dc01", entries)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		if got[i] != tt.want {
			t.Errorf("Classify(%s %s) = %+v, want %+v", tt.e.Type, tt.e.Name, got[i], tt.want)
		}
	}
}

func TestDiff_ListsTheFieldsAnImportWouldChange(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	importUsers(t, st, allOn, person("bob"))
	if d, err := st.Diff("dc01", person("bob")); err != nil || len(d) != 0 {
		t.Errorf("Diff of an unchanged entry = %v, %v", d, err)
	}
	e := person("bob")
	e.Name, e.Email, e.Disabled = "Bob", "bob@new.example", true
	d, err := st.Diff("dc01", e)
	if err != nil {
		t.Fatal(err)
	}
	want := []FieldDiff{
		{"username", "Bob", "bob"},
		{"email", "bob@new.example", "bob@example.com"},
		{"enabled", "false", "true"},
	}
	if !slices.Equal(d, want) {
		t.Errorf("Diff = %+v, want %+v", d, want)
	}
	if _, err := st.Diff("dc01", person("never")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Diff of an entry never imported = %v, want ErrNotFound", err)
	}
	if _, err := st.Diff("dc02", person("bob")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Diff from another source = %v, want ErrNotFound", err)
	}
}

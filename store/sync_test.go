package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory"
)

// syncGroup applies one group read from dc01, as `usersync sync` does.
func syncGroup(t testing.TB, st *Store, gi GroupInput, force bool) (*Run, error) {
	t.Helper()
	opts := allOn
	opts.Force = force
	return st.Apply(context.Background(), Input{Source: "dc01", Actor: "tester", Groups: []GroupInput{gi}, Options: opts}, nil)
}

func groupMembers(t testing.TB, st *Store, group string) []string {
	t.Helper()
	g, err := st.GetGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	return g.Members
}

func TestSync_NewGroupImportsItsMembers(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	off := person("dave")
	off.Disabled = true
	run := apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"), person("carol"), off)}},
		Options: Options{AddNew: true, UpdateExisting: true, Enable: true, Roles: []Assignment{{Role: "Editor"}}}})
	if run.Counts.Created != 4 {
		t.Errorf("counts %+v, want the group and three members created", run.Counts)
	}
	if got := groupMembers(t, st, "sales"); !slices.Equal(got, []string{"bob", "carol", "dave"}) {
		t.Errorf("members %v", got)
	}
	if mustUser(t, st, "dave").Enabled {
		t.Error("a member disabled in the directory was stored enabled")
	}
	g, _ := st.GetGroup("Sales")
	if g.Kind != External || g.Source != "dc01" || g.ExternalID != "gext-Sales" || g.DN == "" {
		t.Errorf("group %+v", g)
	}
	if u := mustUser(t, st, "bob"); !slices.Equal(u.Groups, []string{"Sales"}) {
		t.Errorf("bob's groups %v", u.Groups)
	}
}

func TestSync_MemberBlockedByAnInternalUserIsNotAdded(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "aandrei"})
	run := apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("AAndrei"), person("bob"))}}, Options: allOn})
	if e := entryOf(t, run, "AAndrei"); e.Block != BlockedInternal || e.Reason != ReasonInternal {
		t.Errorf("AAndrei: %+v", e)
	}
	if got := groupMembers(t, st, "Sales"); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("members %v, want only bob", got)
	}
	if u := mustUser(t, st, "aandrei"); len(u.Groups) != 0 || u.Kind != Internal {
		t.Errorf("the internal user was touched: %+v", u)
	}
}

func TestSync_InternalGroupOfTheSameNameBlocksTheGroup(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	if _, err := st.AddGroup(Group{Name: "sales"}); err != nil {
		t.Fatal(err)
	}
	run := apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"))}}, Options: allOn})
	if e := entryOf(t, run, "Sales"); e.Action != ActionSkipped || e.Block != BlockedInternal {
		t.Errorf("Sales: %+v", e)
	}
	if got := groupMembers(t, st, "sales"); len(got) != 0 {
		t.Errorf("the internal group got members %v", got)
	}
	mustUser(t, st, "bob") // members are still imported
}

func TestSync_DepartedMembersAreRemovedAndDeletedOnesDisabled(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	all := people(20)
	if _, err := syncGroup(t, st, GroupInput{Read: groupRead("Sales", all...)}, false); err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, st, User{Username: "zed"})
	read := groupRead("Sales", all[2:]...)
	departed, err := st.Departed("dc01", read)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(departed, []string{"ext-user000000", "ext-user000001"}) {
		t.Errorf("Departed = %v", departed)
	}
	// user000000 left the group; user000001 was deleted from the directory.
	run, err := syncGroup(t, st, GroupInput{Read: read, Deleted: []string{"ext-user000001"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Removed != 2 || run.Counts.Disabled != 1 || run.Counts.Unchanged != 19 {
		t.Errorf("counts %+v, want 2 removed, 1 disabled, 19 unchanged", run.Counts)
	}
	for _, e := range run.Entries {
		if e.Action == ActionRemoved && e.Group != "Sales" {
			t.Errorf("removed entry without its group: %+v", e)
		}
	}
	if got := groupMembers(t, st, "Sales"); len(got) != 18 || slices.Contains(got, "user000000") || slices.Contains(got, "user000001") {
		t.Errorf("members after sync: %v", got)
	}
	if !mustUser(t, st, "user000000").Enabled {
		t.Error("a user who only left the group was disabled")
	}
	if mustUser(t, st, "user000001").Enabled {
		t.Error("a user deleted from the directory stayed enabled")
	}
}

func TestSync_IncompleteReadRemovesAndDisablesNothing(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	all := people(10)
	if _, err := syncGroup(t, st, GroupInput{Read: groupRead("Sales", all...)}, false); err != nil {
		t.Fatal(err)
	}
	off := all[3]
	off.Disabled = true
	read := groupRead("Sales", all[2], off) // 8 missing, one says disabled
	read.Incomplete = "size limit exceeded"
	gi := GroupInput{Read: read, Deleted: []string{"ext-user000000"}}
	plan, err := st.Plan(context.Background(), Input{Source: "dc01", Groups: []GroupInput{gi}, Options: allOn})
	if err != nil {
		t.Fatal(err)
	}
	run, err := syncGroup(t, st, gi, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Run{plan, run} {
		if r.Counts.Removed != 0 || r.Counts.Disabled != 0 {
			t.Errorf("%s: counts %+v after an incomplete read", r.Status, r.Counts)
		}
		if !strings.Contains(r.Error, "read incomplete: size limit exceeded") || !strings.Contains(r.Error, "nothing was removed or disabled") {
			t.Errorf("%s: run error %q does not say why", r.Status, r.Error)
		}
		for _, e := range r.Entries {
			if e.Action == ActionSkipped && !strings.Contains(e.Reason, "read incomplete: size limit exceeded") {
				t.Errorf("%s: skipped entry does not say why: %+v", r.Status, e)
			}
		}
		if r.Counts.Skipped != 10 { // 8 not removed, 1 not disabled as deleted, 1 not disabled as read
			t.Errorf("%s: %d skipped, want 10: %+v", r.Status, r.Counts.Skipped, r.Entries)
		}
	}
	if run.Status != RunIncomplete {
		t.Errorf("status %s, want incomplete", run.Status)
	}
	if got := groupMembers(t, st, "Sales"); len(got) != 10 {
		t.Errorf("members after an incomplete read: %v", got)
	}
	for _, u := range all {
		if !mustUser(t, st, u.Name).Enabled {
			t.Errorf("%s was disabled on an incomplete read", u.Name)
		}
	}
}

func TestSync_RemovalThreshold(t *testing.T) {
	t.Parallel()
	all := people(40)
	setup := func(t *testing.T) *Store {
		st := openTest(t, nil)
		if _, err := syncGroup(t, st, GroupInput{Read: groupRead("Sales", all...)}, false); err != nil {
			t.Fatal(err)
		}
		return st
	}
	shrunk := GroupInput{Read: groupRead("Sales", all[12:]...)}
	const msg = `sync of group "Sales" would remove or disable 12 of 40 members (threshold 4); re-run with --force to apply`

	t.Run("without force the group fails and nothing is removed", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		run, err := syncGroup(t, st, shrunk, false)
		if err != nil {
			t.Fatal(err)
		}
		var e RunEntry
		for _, x := range run.Entries {
			if x.Type == directory.TypeGroup && x.Action == ActionFailed {
				e = x
			}
		}
		if e.Name != "Sales" || e.Block != BlockedThreshold ||
			!strings.Contains(e.Reason, "would remove or disable 12 of 40 members (threshold 4)") {
			t.Errorf("group entry %+v", e)
		}
		if run.Error != msg || run.Counts.Removed != 0 || run.Counts.Skipped != 12 {
			t.Errorf("run error %q counts %+v", run.Error, run.Counts)
		}
		if got := groupMembers(t, st, "Sales"); len(got) != 40 {
			t.Errorf("%d members left, want 40", len(got))
		}
	})
	t.Run("plan says what apply does", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		plan, err := st.Plan(context.Background(), Input{Source: "dc01", Groups: []GroupInput{shrunk}, Options: allOn})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Error != msg {
			t.Errorf("plan error %q, want %q", plan.Error, msg)
		}
		if plan.Counts.Removed != 0 || plan.Counts.Failed != 1 || plan.Counts.Skipped != 12 {
			t.Errorf("plan counts %+v, want the group failed and 12 members not removed", plan.Counts)
		}
		applied, err := syncGroup(t, st, shrunk, false)
		if err != nil {
			t.Fatal(err)
		}
		if applied.Counts != plan.Counts {
			t.Errorf("apply counts %+v, plan counts %+v", applied.Counts, plan.Counts)
		}
	})
	t.Run("applied with force", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		run, err := syncGroup(t, st, shrunk, true)
		if err != nil {
			t.Fatal(err)
		}
		if run.Counts.Removed != 12 || run.Error != "" {
			t.Errorf("forced run: counts %+v error %q", run.Counts, run.Error)
		}
		if got := groupMembers(t, st, "Sales"); len(got) != 28 {
			t.Errorf("%d members left, want 28", len(got))
		}
	})
	t.Run("within the threshold needs no force", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		run, err := syncGroup(t, st, GroupInput{Read: groupRead("Sales", all[4:]...)}, false)
		if err != nil || run.Counts.Removed != 4 {
			t.Errorf("removing 4 of 40: %v %+v", err, run)
		}
	})
	t.Run("in a small group one removal is over 10%", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		// Shrink Sales to 2 members first (forced), then lose one of them.
		if _, err := syncGroup(t, st, GroupInput{Read: groupRead("Sales", all[:2]...)}, true); err != nil {
			t.Fatal(err)
		}
		run, err := syncGroup(t, st, GroupInput{Read: groupRead("Sales", all[:1]...)}, false)
		if err != nil || !strings.Contains(run.Error, "1 of 2 members (threshold 0)") || run.Counts.Removed != 0 {
			t.Errorf("removing 1 of 2 = %v, %+v; want refused by the threshold", err, run)
		}
	})
	t.Run("a custom threshold", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		opts := allOn
		opts.Threshold = Threshold{Percent: 50, Max: 10}
		run, err := st.Apply(context.Background(), Input{Source: "dc01", Groups: []GroupInput{shrunk}, Options: opts}, nil)
		if err != nil || !strings.Contains(run.Error, "(threshold 10)") || run.Counts.Removed != 0 {
			t.Errorf("Apply = %v, %+v; want the threshold of 10", err, run)
		}
	})
}

func TestSync_NeverChangesRoleAssignments(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	read := groupRead("Sales", person("bob"))
	opts := allOn
	opts.Roles = []Assignment{{Role: "Viewer"}}
	apply(t, st, Input{Groups: []GroupInput{{Read: read}}, Options: opts})
	if err := st.Assign("Sales", Assignment{Role: "Editor", Scope: "crm"}); err != nil {
		t.Fatal(err)
	}
	renamed := groupRead("Sales", person("bob"), person("carol"))
	renamed.Group.Name, renamed.Group.DN = "Sales Team", "cn=Sales Team"
	opts.Roles = []Assignment{{Role: "Administrator"}}
	run := apply(t, st, Input{Groups: []GroupInput{{Read: renamed}}, Options: opts})
	if e := entryOf(t, run, "Sales Team"); e.Action != ActionUpdated {
		t.Errorf("group entry %+v", e)
	}
	g, err := st.GetGroup("sales team")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Assignment{{"Viewer", GlobalScope}, {"Editor", "crm"}}; !slices.Equal(g.Roles, want) {
		t.Errorf("roles after sync %v, want %v", g.Roles, want)
	}
	if !slices.Equal(g.Members, []string{"bob", "carol"}) {
		t.Errorf("members %v", g.Members)
	}
}

func TestSync_ExistingUserJoiningTheGroupIsUpdated(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	importUsers(t, st, allOn, person("bob"))
	run := apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"))}}, Options: allOn})
	if e := entryOf(t, run, "bob"); e.Action != ActionUpdated || !strings.Contains(e.Reason, "added to group Sales") {
		t.Errorf("bob: %+v", e)
	}
	again := apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"))}}, Options: allOn})
	if again.Counts != (Counts{Unchanged: 2}) {
		t.Errorf("re-sync counts %+v, want all unchanged", again.Counts)
	}
}

func TestSync_LargeGroupMembershipIsNotOneRecord(t *testing.T) {
	t.Parallel()
	st := openTest(t, &OpenOptions{BatchSize: 500})
	all := people(3000)
	if _, err := syncGroup(t, st, GroupInput{Read: groupRead("Everyone", all...)}, false); err != nil {
		t.Fatal(err)
	}
	if got := groupMembers(t, st, "everyone"); len(got) != 3000 {
		t.Fatalf("%d members", len(got))
	}
	run, err := syncGroup(t, st, GroupInput{Read: groupRead("Everyone", all[1:]...)}, false)
	if err != nil || run.Counts.Removed != 1 || run.Counts.Unchanged != 3000 {
		t.Fatalf("%v %+v", err, run.Counts)
	}
	if u := mustUser(t, st, "user000000"); len(u.Groups) != 0 {
		t.Errorf("removed member still lists %v", u.Groups)
	}
}

func TestDeparted_UnknownGroupHasNone(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	d, err := st.Departed("dc01", groupRead("Nope"))
	if err != nil || len(d) != 0 {
		t.Errorf("Departed of a group never imported = %v, %v", d, err)
	}
	_ = directory.TypeUser
}

// TestSync_WatchIncrementalInputReadBeforeAnotherSyncIsRefused: an input
// whose Expect names a group as it stood before another sync wrote a new
// cookie is refused with ErrStale in the transaction that would start its
// run: nothing is applied or journaled, and the other sync's cookie stays.
// An input that expects the group as it stands applies.
func TestSync_WatchIncrementalInputReadBeforeAnotherSyncIsRefused(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	ctx := context.Background()
	in := func(mail string, cookie string, expect []GroupMark) Input {
		bob := person("bob")
		bob.Email = mail
		return Input{Source: "dc01", Actor: "tester", Options: allOn, Mode: ModeIncremental, Expect: expect,
			Groups: []GroupInput{{Read: groupRead("Sales", bob), Cookie: []byte(cookie)}}}
	}
	apply(t, st, in("bob@example.com", "c1", nil))
	before, err := st.GetGroup("Sales")
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := st.ListRuns()
	// Another process syncs the group meanwhile: a new cookie.
	apply(t, st, in("bob@other.example.com", "c2", nil))

	run, err := st.Apply(ctx, in("bob@stale.example.com", "c1-next", []GroupMark{before.Mark()}), nil)
	if !errors.Is(err, ErrStale) || run != nil {
		t.Fatalf("a stale input: run %+v, err %v; want ErrStale and no run", run, err)
	}
	if u := mustUser(t, st, "bob"); u.Email != "bob@other.example.com" {
		t.Errorf("a stale input changed bob: %+v", u)
	}
	if g, _ := st.GetGroup("Sales"); string(g.Feed) != "c2" {
		t.Errorf("the cookie after a stale input: %q, want the other sync's c2", g.Feed)
	}
	if after, _ := st.ListRuns(); len(after) != len(runs)+1 {
		t.Errorf("a stale input journaled a run: %d runs, want %d", len(after), len(runs)+1)
	}

	now, _ := st.GetGroup("Sales")
	apply(t, st, in("bob@fresh.example.com", "c3", []GroupMark{now.Mark()}))
	if g, _ := st.GetGroup("Sales"); string(g.Feed) != "c3" || mustUser(t, st, "bob").Email != "bob@fresh.example.com" {
		t.Errorf("an input that expects the group as it is was not applied: cookie %q", g.Feed)
	}
	gone := GroupMark{ExternalID: "gext-Gone"}
	if _, err := st.Apply(ctx, in("x@example.com", "c4", []GroupMark{gone}), nil); !errors.Is(err, ErrStale) {
		t.Errorf("an input expecting a group no longer in the store: %v, want ErrStale", err)
	}
}

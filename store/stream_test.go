package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory"
)

// streamOf yields entries, then fails with err (nil: ends well).
func streamOf(entries []directory.Entry, err error) func(func(directory.Entry) error) error {
	return func(yield func(directory.Entry) error) error {
		for _, e := range entries {
			if err := yield(e); err != nil {
				return err
			}
		}
		return err
	}
}

// groupsFrom reads groups from reads by name.
func groupsFrom(reads ...*directory.GroupRead) func(context.Context, directory.Entry) (GroupInput, error) {
	return func(_ context.Context, g directory.Entry) (GroupInput, error) {
		for _, r := range reads {
			if r.Group.ExternalID == g.ExternalID {
				return GroupInput{Read: r}, nil
			}
		}
		return GroupInput{}, fmt.Errorf("no group %s", g.Name)
	}
}

func entryKeys(run *Run) []string {
	var out []string
	for _, e := range run.Entries {
		out = append(out, fmt.Sprintf("%s %s %s %s", e.Type, e.Name, e.Action, e.Group))
	}
	slices.Sort(out)
	return out
}

func TestApplyStream_SameOutcomeAsApply(t *testing.T) {
	t.Parallel()
	users := people(12)
	extra := person("member-only")
	sales := groupRead("Sales", users[0], users[1], extra)
	found := append(slices.Clone(users), users[3], sales.Group) // a duplicate, and the group last
	opts := allOn
	opts.Roles = []Assignment{{Role: "Viewer"}}

	streamed := openTest(t, &OpenOptions{BatchSize: 5})
	var batches int
	run, err := streamed.ApplyStream(context.Background(), Input{Source: "dc01", Actor: "cron", Options: opts},
		streamOf(found, nil), groupsFrom(sales), func(Progress) { batches++ })
	if err != nil {
		t.Fatal(err)
	}
	whole := openTest(t, &OpenOptions{BatchSize: 5})
	want := apply(t, whole, Input{Source: "dc01", Users: users, Groups: []GroupInput{{Read: sales}}, Options: opts})

	if run.Status != RunCompleted || run.Counts != want.Counts {
		t.Errorf("streamed run %s %+v, Apply's %+v", run.Status, run.Counts, want.Counts)
	}
	if batches < 3 {
		t.Errorf("%d progress calls: the users were not written batch by batch", batches)
	}
	// The streamed run keeps only the entries that need attention in
	// memory (none here); the journal holds them all.
	journaled, err := streamed.GetRun(run.ID)
	if err != nil || !run.Trimmed || len(run.Entries) != 0 || journaled.Counts != run.Counts {
		t.Errorf("journal %+v, %v; returned %d entries %+v", journaled, err, len(run.Entries), run.Counts)
	}
	if got, w := entryKeys(&journaled), entryKeys(want); !slices.Equal(got, w) {
		t.Errorf("streamed entries\n%v\nApply's\n%v", got, w)
	}
	if got := groupMembers(t, streamed, "Sales"); len(got) != 3 {
		t.Errorf("Sales members %v, want 3", got)
	}
	if u := mustUser(t, streamed, "member-only"); len(u.Roles) != 0 {
		t.Errorf("a member imported through the group got the selected users' roles: %v", u.Roles)
	}
	if u := mustUser(t, streamed, users[5].Name); !slices.Contains(u.Roles, Assignment{"Viewer", GlobalScope}) {
		t.Errorf("a selected user did not get Viewer: %v", u.Roles)
	}
}

func TestApplyStream_SearchFailures(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	t.Run("before the first entry: no run", func(t *testing.T) {
		st := openTest(t, nil)
		run, err := st.ApplyStream(context.Background(), Input{Source: "dc01", Options: allOn}, streamOf(nil, boom), groupsFrom(), nil)
		if run != nil || !errors.Is(err, boom) {
			t.Errorf("ApplyStream = %v, %v", run, err)
		}
		if runs, _ := st.ListRuns(); len(runs) != 0 {
			t.Errorf("runs journaled: %v", runs)
		}
	})
	t.Run("midway: incomplete, written batches stay, a re-run completes", func(t *testing.T) {
		st := openTest(t, &OpenOptions{BatchSize: 4})
		users := people(10)
		run, err := st.ApplyStream(context.Background(), Input{Source: "dc01", Options: allOn}, streamOf(users[:9], boom), groupsFrom(), nil)
		if err != nil || run == nil || run.Status != RunIncomplete || !strings.Contains(run.Error, "connection reset") {
			t.Fatalf("ApplyStream = %+v, %v", run, err)
		}
		if n := countUsers(t, st); n != 9 {
			t.Errorf("%d users after the failed search, want the 9 received", n)
		}
		again, err := st.ApplyStream(context.Background(), Input{Source: "dc01", Options: allOn}, streamOf(users, nil), groupsFrom(), nil)
		if err != nil || again.Counts.Created != 1 || again.Counts.Unchanged != 9 {
			t.Errorf("re-run = %+v, %v", again, err)
		}
	})
	t.Run("cancelled: interrupted", func(t *testing.T) {
		st := openTest(t, &OpenOptions{BatchSize: 2})
		ctx, cancel := context.WithCancel(context.Background())
		users := people(20)
		search := func(yield func(directory.Entry) error) error {
			for i, e := range users {
				if i == 6 {
					cancel()
				}
				if err := yield(e); err != nil {
					return err
				}
			}
			return nil
		}
		run, err := st.ApplyStream(ctx, Input{Source: "dc01", Options: allOn}, search, groupsFrom(), nil)
		if err != nil || run == nil || run.Status != RunInterrupted {
			t.Fatalf("cancelled stream = %+v, %v", run, err)
		}
		if n := countUsers(t, st); n >= 20 || n%2 != 0 {
			t.Errorf("%d users after cancelling: not whole batches", n)
		}
	})
	t.Run("an unreadable group: failed, users stay", func(t *testing.T) {
		st := openTest(t, nil)
		g := groupRead("Ghost")
		found := append(people(3), g.Group)
		run, err := st.ApplyStream(context.Background(), Input{Source: "dc01", Options: allOn}, streamOf(found, nil), groupsFrom(), nil)
		if err == nil || run == nil || run.Status != RunFailed || countUsers(t, st) != 3 {
			t.Errorf("unreadable group = %+v, %v", run, err)
		}
	})
}

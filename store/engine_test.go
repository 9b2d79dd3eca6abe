package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory"
)

// TestClassifyAndDiff_AgreeWithPlan holds Classify and Diff equal to what
// Plan decides for the same entry, over a table of store states.
func TestClassifyAndDiff_AgreeWithPlan(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "aandrei", Email: "a@x"})
	importUsers(t, st, allOn, person("bob"), person("carol"), person("erin"))
	// carol is also known to another source.
	if _, err := st.Apply(context.Background(), Input{Source: "dc02", Users: []directory.Entry{person("frank")}, Options: allOn}, nil); err != nil {
		t.Fatal(err)
	}
	apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"))}}, Options: allOn})
	if _, err := st.AddGroup(Group{Name: "Admins"}); err != nil {
		t.Fatal(err)
	}

	changed := person("bob")
	changed.Email, changed.DisplayName = "bob@new.example", "Robert"
	disabled := person("erin")
	disabled.Disabled = true
	renamedOnto := person("carol")
	renamedOnto.Name = "aandrei" // imported carol renamed onto an internal name
	noID := person("ghost")
	noID.ExternalID = ""
	salesRenamed := groupRead("Sales").Group
	salesRenamed.Name = "Sales Team"
	cases := map[string]directory.Entry{
		"new user":                person("zoe"),
		"unchanged user":          person("carol"),
		"changed user":            changed,
		"disabled in directory":   disabled,
		"internal name":           {Type: directory.TypeUser, ExternalID: "ext-x", Name: "AAndrei", Email: "x@x"},
		"other source's name":     {Type: directory.TypeUser, ExternalID: "ext-y", Name: "frank"},
		"rename onto a taken one": renamedOnto,
		"no external ID":          noID,
		"new group":               groupRead("Support").Group,
		"imported group":          groupRead("Sales").Group,
		"renamed group":           salesRenamed,
		"internal group name":     groupRead("admins").Group,
	}
	want := map[Action]State{ActionCreated: StateNew, ActionUpdated: StateImported, ActionUnchanged: StateImported, ActionFailed: StateInvalid}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			in := Input{Source: "dc01", Options: classifyOptions}
			if e.Type == directory.TypeGroup {
				in.Groups = []GroupInput{{Read: &directory.GroupRead{Group: e}}}
			} else {
				in.Users = []directory.Entry{e}
			}
			plan, err := st.Plan(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			pe := plan.Entries[0]
			sts, err := st.Classify("dc01", []directory.Entry{e})
			if err != nil {
				t.Fatal(err)
			}
			got := sts[0]
			w, ok := want[pe.Action]
			switch {
			case pe.Block == BlockedInternal:
				w, ok = StateBlockedInternal, true
			case pe.Block == BlockedSource:
				w, ok = StateBlockedSource, true
			}
			if !ok || got.State != w {
				t.Errorf("Classify = %+v; Plan decided %+v", got, pe)
			}
			if (got.State == StateInvalid || strings.HasPrefix(string(got.State), "blocked")) && got.Reason != pe.Reason {
				t.Errorf("Classify reason %q, Plan reason %q", got.Reason, pe.Reason)
			}
			d, err := st.Diff("dc01", e)
			if got.State != StateImported {
				if err == nil && got.State != StateInvalid {
					t.Errorf("Diff of a row that is not imported = %v, want ErrNotFound", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, f := range d {
				fields = append(fields, f.Field)
			}
			planned := ""
			if c, ok := strings.CutPrefix(pe.Reason, "changed: "); ok {
				planned = c
			}
			if strings.Join(fields, ", ") != planned {
				t.Errorf("Diff fields %v, Plan says %q", fields, pe.Reason)
			}
		})
	}
}

// TestThreshold_SameOutcomeListedOrStreamed: a group over the removal
// threshold gets the same outcome whether the import names it (Apply) or
// finds it in a streamed search (ApplyStream).
func TestThreshold_SameOutcomeListedOrStreamed(t *testing.T) {
	t.Parallel()
	all := people(20)
	outcome := func(streamed bool) (Counts, []string) {
		st := openTest(t, nil)
		full := groupRead("Sales", all...)
		apply(t, st, Input{Groups: []GroupInput{{Read: full}}, Options: allOn})
		shrunk := groupRead("Sales", all[10:]...)
		var run *Run
		var err error
		if streamed {
			run, err = st.ApplyStream(context.Background(), Input{Source: "dc01", Options: allOn},
				streamOf([]directory.Entry{shrunk.Group}, nil), groupsFrom(shrunk), nil)
		} else {
			run, err = st.Apply(context.Background(), Input{Source: "dc01", Groups: []GroupInput{{Read: shrunk}}, Options: allOn}, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		return run.Counts, groupMembers(t, st, "Sales")
	}
	lc, lm := outcome(false)
	sc, sm := outcome(true)
	if lc != sc || !slices.Equal(lm, sm) {
		t.Errorf("listed: %+v %d members; streamed: %+v %d members", lc, len(lm), sc, len(sm))
	}
	if lc.Failed != 1 || lc.Removed != 0 || len(lm) != 20 {
		t.Errorf("over the threshold: %+v, %d members; want the group failed and nobody removed", lc, len(lm))
	}
}

// TestSync_NewMembersGetTheGroupsRememberedEnable: a group imported with
// Enable adds new members enabled on its syncs; one imported without adds
// them disabled.
func TestSync_NewMembersGetTheGroupsRememberedEnable(t *testing.T) {
	t.Parallel()
	for _, enable := range []bool{true, false} {
		t.Run(fmt.Sprint("enable=", enable), func(t *testing.T) {
			st := openTest(t, nil)
			opts := Options{AddNew: true, UpdateExisting: true, Enable: enable}
			apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"))}}, Options: opts})
			g, err := st.GetGroup("Sales")
			if err != nil {
				t.Fatal(err)
			}
			if g.Import == nil || g.Import.Enable != enable {
				t.Fatalf("group remembers %+v, want enable=%v", g.Import, enable)
			}
			sync := SyncOptions(directory.KindLDAP)
			apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"), person("newbie"))}}, Options: sync})
			if got := mustUser(t, st, "newbie").Enabled; got != enable {
				t.Errorf("new member enabled = %v, want %v", got, enable)
			}
			if g, _ := st.GetGroup("Sales"); g.Import == nil || g.Import.Enable != enable {
				t.Errorf("the sync changed what the group remembers: %+v", g.Import)
			}
		})
	}
}

// TestProgress_EntriesDoneOfEntriesKnown: Apply and ApplyStream report the
// same meaning of progress, and end at Done == Total.
func TestProgress_EntriesDoneOfEntriesKnown(t *testing.T) {
	t.Parallel()
	users := people(9)
	sales := groupRead("Sales", people(3)...)
	var listed, streamed []Progress
	st := openTest(t, &OpenOptions{BatchSize: 4})
	if _, err := st.Apply(context.Background(), Input{Source: "dc01", Users: users, Groups: []GroupInput{{Read: sales}}, Options: allOn},
		func(p Progress) { listed = append(listed, p) }); err != nil {
		t.Fatal(err)
	}
	st2 := openTest(t, &OpenOptions{BatchSize: 4})
	if _, err := st2.ApplyStream(context.Background(), Input{Source: "dc01", Options: allOn},
		streamOf(append(slices.Clone(users), sales.Group), nil), groupsFrom(sales), func(p Progress) { streamed = append(streamed, p) }); err != nil {
		t.Fatal(err)
	}
	for _, ps := range [][]Progress{listed, streamed} {
		last := ps[len(ps)-1]
		if last.Done != last.Total || last.Done != 10 { // 9 users (3 of them members) and the group
			t.Errorf("last progress %+v, want 10 of 10 (all: %+v)", last, ps)
		}
		for i := 1; i < len(ps); i++ {
			if ps[i].Done < ps[i-1].Done {
				t.Errorf("progress went back: %+v", ps)
			}
		}
	}
}

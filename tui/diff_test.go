package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// TestDiff_GroupShowsWhatImportingItDoesToItsMembers: the differences of a
// group are the store's plan for it, not its own two fields: members
// added, updated (with their fields), removed and disabled.
func TestDiff_GroupShowsWhatImportingItDoesToItsMembers(t *testing.T) {
	l := newDemoLab(t)
	g := l.dir.groups["uuid-g-Analysis"]

	// Analysis, as imported before, has 20 more members and gone, whom
	// the directory has since deleted.
	gone := user("gone", "Gone Away", "gone@corp.example")
	members := append([]directory.Entry{}, g.Members...)
	members[0].Email = "andrew.armstrong@corp.example" // as the earlier import saw andarm
	for i := range 20 {
		members = append(members, user(fmt.Sprintf("m%02d", i), fmt.Sprintf("Member %d", i), fmt.Sprintf("m%02d@corp.example", i)))
	}
	all := append(append([]directory.Entry{}, members...), gone)
	in := store.Input{Source: "dc01", Actor: "seed", Options: store.Options{AddNew: true, UpdateExisting: true, Enable: true},
		Groups: []store.GroupInput{{Read: &directory.GroupRead{Group: g.Group, Members: all}}}}
	if _, err := l.st.Apply(context.Background(), in, nil); err != nil {
		t.Fatal(err)
	}
	// Now the directory lists andarm (a new email), newbie, not anisha
	// (still in the directory, no longer in the group), and not gone.
	now := []directory.Entry{g.Members[0], user("newbie", "New Person", "newbie@corp.example")}
	now = append(now, members[2:]...)
	g.Members = now

	d, s := l.results(t)
	moveTo(t, s.list.results, "Analysis")
	d.keys("d")
	if _, ok := d.active().(*diffScreen); !ok {
		t.Fatalf("d on Analysis opened %T", d.active())
	}
	d.mustNotShow("Nothing would change")
	for _, want := range []string{
		"update   andarm — changed: email",
		"email: andrew.armstrong@corp.example → andarm@corp.example",
		"create   newbie",
		"remove   anisha — no longer a member of Analysis in dc01",
		"disable  gone — deleted from dc01",
		"20 members stay as they are.",
		"Role assignments are kept unchanged.",
	} {
		d.mustShow(want)
	}
	d.mustFit(80, 24)
}

// TestDiff_GroupOverTheThresholdSaysTheSyncWouldStop: a removal over the
// threshold is shown as the plan has it: skipped, and why.
func TestDiff_GroupOverTheThresholdSaysTheSyncWouldStop(t *testing.T) {
	l := newDemoLab(t)
	g := l.dir.groups["uuid-g-Analysis"]
	g.Members = g.Members[:1] // anisha left the group
	d, s := l.results(t)
	moveTo(t, s.list.results, "Analysis")
	d.keys("right")
	if !strings.Contains(d.screen(), "update   andarm — changed: email") {
		t.Fatalf("andarm's change is not listed:\n%s", d.screen())
	}
	d.mustShow("would remove or disable 1 of 2 members")
	d.mustShow("skip     anisha")
}

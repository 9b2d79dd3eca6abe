package demo

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestDemoSampleData_IsTheSameEveryTime(t *testing.T) {
	t.Parallel()
	if !reflect.DeepEqual(SampleData(), SampleData()) {
		t.Fatal("SampleData differs between calls")
	}
	// A few values pinned, so that a change to the generator that would
	// change every demo recording is noticed.
	if got := nameUUID("group", GroupAnalysis); got != "0f53c7e7-0615-53f7-a555-2a121c72c2ec" {
		t.Errorf("Analysis's entryUUID is now %s", got)
	}
}

func TestDemoSampleData_Shape(t *testing.T) {
	t.Parallel()
	people, groups := sampleEntries(isPerson), sampleEntries(isGroup)
	retail := sampleEntries(func(e Entry) bool {
		return isPerson(e) && strings.HasSuffix(strings.ToLower(e.DN), ","+strings.ToLower(RetailDN))
	})
	if office := len(people) - len(retail); office < 200 || office > 500 {
		t.Errorf("%d office people, want a few hundred", office)
	}
	if len(retail) != RetailMembers {
		t.Errorf("%d store staff, want %d", len(retail), RetailMembers)
	}
	if len(groups) != 21 {
		t.Errorf("%d groups, want 21", len(groups))
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	uids, ids := map[string]bool{}, map[string]bool{}
	an := 0
	for _, e := range SampleData().Entries {
		id := first(e, "entryUUID")
		if !uuid.MatchString(id) || ids[id] {
			t.Errorf("%s: entryUUID %q is malformed or taken", e.DN, id)
		}
		ids[id] = true
		if !isPerson(e) {
			continue
		}
		uid := strings.ToLower(first(e, "uid"))
		if uids[uid] {
			t.Errorf("uid %s is taken twice", uid)
		}
		uids[uid] = true
		for _, attr := range []string{"uid", "cn", "givenName", "sn", "displayName", "mail"} {
			if strings.HasPrefix(strings.ToLower(first(e, attr)), "an") {
				an++
				break
			}
		}
	}
	if an != 7 {
		t.Errorf("%d people match an*, want the story's 7", an)
	}
}

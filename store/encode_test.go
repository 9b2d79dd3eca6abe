package store

import (
	"encoding/json"
	"testing"

	"github.com/usersync/usersync/directory"
)

// TestEncode_SameJSONAsEncodingJSON: the hand-written encoders write what
// encoding/json writes, byte for byte, for plain and hostile values.
func TestEncode_SameJSONAsEncodingJSON(t *testing.T) {
	texts := []string{"", "bob", "Ana Álvarez", "o'brien \"quoted\" \\ back", "a\x1b[2Jb\r\n", "<script>&", "bidi\u202egnp.exe", "\xff\xfe bad utf-8", "日本語"}
	for i, s := range texts {
		u := &userRec{Username: s, DisplayName: texts[(i+1)%len(texts)], Email: s, Kind: External, Source: "dc01",
			ExternalID: s + "-id", DN: "uid=" + s, Enabled: i%2 == 0, Guest: i%3 == 0, Created: int64(i) * 1e18, Synced: int64(i),
			Modified: -int64(i), Linked: i%4 == 0}
		if i%2 == 1 {
			u.Roles = []Assignment{{Role: "Viewer", Scope: s}, {Role: s, Scope: "global"}}
		}
		want, _ := json.Marshal(u)
		if got := encode(u); string(got) != string(want) {
			t.Errorf("user %q:\ngot  %s\nwant %s", s, got, want)
		}
		e := &RunEntry{Name: s, Type: directory.TypeUser, Action: ActionCreated, Reason: texts[(i+2)%len(texts)]}
		if i%2 == 0 {
			e.Block, e.Group = BlockedInternal, s
		}
		want, _ = json.Marshal(e)
		if got := encode(e); string(got) != string(want) {
			t.Errorf("entry %q:\ngot  %s\nwant %s", s, got, want)
		}
	}
}

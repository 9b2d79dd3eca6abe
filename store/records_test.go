package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestDecode_CorruptRecordsAreErrors(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"", "{", "null", "[]", `{"username":""}`, `{"username":"a","kind":"robot"}`, `{"username":"a","kind":"external"}`, `{"username":7}`} {
		if _, err := decodeUser([]byte(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeUser(%q) = %v, want ErrCorrupt", b, err)
		}
		if _, err := decodeGroup([]byte(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeGroup(%q) = %v, want ErrCorrupt", b, err)
		}
	}
	if _, err := decodeRun([]byte(`{"status":"bogus"}`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("decodeRun with a bogus status = %v, want ErrCorrupt", err)
	}
}

func FuzzDecodeUser(f *testing.F) {
	f.Add(encode(&userRec{Username: "aandrei", Kind: External, Source: "dc01", ExternalID: "x", Roles: []Assignment{{"Viewer", "global"}}, Created: 1}))
	f.Add([]byte(`{"username":"bob","kind":"internal","enabled":true}`))
	f.Add([]byte(`{"username":"\ud800","kind":"internal","created":1e400}`))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUser(b)
		if err != nil {
			return
		}
		again, err := decodeUser(encode(u))
		if err != nil {
			t.Fatalf("a decoded user does not decode once encoded again: %v", err)
		}
		if !reflect.DeepEqual(u, again) {
			t.Fatalf("round trip changed the user: %+v → %+v", u, again)
		}
		_ = u.user()
	})
}

// FuzzDecodeRecords feeds the same bytes to every record decoder.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(encode(&groupRec{Name: "Sales", Kind: External, Source: "dc01", ExternalID: "g"}))
	f.Add(encode(&runRec{Status: RunCompleted, Counts: Counts{Created: 3}, Options: &Options{Roles: []Assignment{{"Viewer", ""}}}}))
	f.Add(encode(Role{Name: "Viewer"}))
	f.Add(encode(&RunEntry{Name: "a", Action: ActionCreated}))
	f.Add([]byte(`{"options":{"Threshold":{"Percent":"x"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, err := decodeGroup(b); err == nil {
			_ = g.group()
		}
		if r, err := decodeRun(b); err == nil {
			_ = r.run(1)
		}
		_, _ = decodeRole(b)
		_, _ = decodeEntry(b)
	})
}

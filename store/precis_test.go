package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/secure/precis"

	"github.com/usersync/usersync/directory"
)

func TestUsernameProblem_PrecisUsernameCaseMapped(t *testing.T) {
	t.Parallel()
	passes := []struct{ name, fold string }{
		{"aandrei", "aandrei"},
		{"AAndrei", "aandrei"},
		{"ａｎｄｙ", "andy"}, // full-width
		{"josé", "josé"},
		{"jose\u0301", "josé"}, // decomposed
		{"john.doe@example.com", "john.doe@example.com"},
		{"o'brien", "o'brien"},
		{"svc_backup-01", "svc_backup-01"},
		{"Åsa", "åsa"},
		{"李小龙", "李小龙"},
		{"אבג", "אבג"}, // right-to-left only: the Bidi Rule holds
	}
	for _, tt := range passes {
		if p := usernameProblem(tt.name); p != "" {
			t.Errorf("usernameProblem(%q) = %q, want it allowed", tt.name, p)
		}
		if err := checkUsername(tt.name); err != nil {
			t.Errorf("checkUsername(%q) = %v", tt.name, err)
		}
		if f := Fold(tt.name); f != tt.fold {
			t.Errorf("Fold(%q) = %q, want %q", tt.name, f, tt.fold)
		}
	}

	fails := []struct {
		name, want string // want: the whole reason, or the part after ": "
	}{
		{"bidi\u202egnp.exe", `username "bidi\u202egnp.exe" is not allowed: U+202E RIGHT-TO-LEFT OVERRIDE at position 5`},
		{"admin\u200e", `username "admin\u200e" is not allowed: U+200E LEFT-TO-RIGHT MARK at position 6`},
		{"\u2066root\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE at position 1"},
		{"anders berg", `username "anders berg" is not allowed: U+0020 SPACE at position 7`},
		{" bob", "has leading or trailing space: U+0020 SPACE at position 1"},
		{"bo\x1b[2Jb", `username "bo\x1b[2Jb" contains a control character: U+001B ESCAPE at position 3`},
		{"mal\nlory", "contains a control character: U+000A LINE FEED at position 4"},
		{"mal\u0085lory", "contains a control character: U+0085 NEXT LINE at position 4"},
		{"ad\u200dmin", `username "ad\u200dmin" is not allowed: U+200D ZERO WIDTH JOINER at position 3`},
		{"zero\u200bwidth", "U+200B ZERO WIDTH SPACE at position 5"},
		{"\ufb01ona", "U+FB01 LATIN SMALL LIGATURE FI at position 1"},
		{"x\u00b2", "U+00B2 SUPERSCRIPT TWO at position 2"},
		{"abc\u05d0", "U+05D0 HEBREW LETTER ALEF at position 4 is not allowed there"},
		{"", "empty username"},
		{"\xff", "not valid UTF-8"},
	}
	for _, tt := range fails {
		p := usernameProblem(tt.name)
		if p == "" || !strings.HasSuffix(p, tt.want) {
			t.Errorf("usernameProblem(%q) = %q, want one ending %q", tt.name, p, tt.want)
		}
		if _, err := precis.UsernameCaseMapped.String(tt.name); err == nil && tt.name != "" {
			t.Errorf("the profile itself allows %q: the test is wrong", tt.name)
		}
		if err := checkUsername(tt.name); !errors.Is(err, ErrInvalid) {
			t.Errorf("checkUsername(%q) = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestUsernameProblem_ASCIIFastPathAgreesWithTheProfile(t *testing.T) {
	t.Parallel()
	for c := 0; c < 0x80; c++ {
		name := "a" + string(rune(c)) + "b"
		_, err := precis.UsernameCaseMapped.String(name)
		if got := usernameProblem(name) == ""; got != (err == nil) {
			t.Errorf("usernameProblem(%q) allows: %v; the profile: %v", name, got, err)
		}
	}
}

// TestFold_PrecisEqualNamesFoldEqual holds the collision rule to the
// check: two usernames the PRECIS profile maps to one string always fold
// alike, so the store never keeps them apart.
func TestFold_PrecisEqualNamesFoldEqual(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"AAndrei", "ＡＡｎｄｒｅｉ", "İstanbul", "ΣΊΣΥΦΟΣ", "Straße", "\u212Aim", "ᎠᎡᎢ", "ꭰꭱ",
		"ǈubica", "ΌΣΟΣ", "ΐ", "ŉ", "Ǆ", "e\u0301", "ｶﾀｶﾅ", "Ⅷ",
	} {
		p, err := precis.UsernameCaseMapped.String(s)
		if err != nil {
			continue // refused: Fold need not agree with anything
		}
		if Fold(p) != Fold(s) {
			t.Errorf("Fold(%q) = %q but Fold of its PRECIS form %q = %q", s, Fold(s), p, Fold(p))
		}
	}
	// Every code point the profile allows, after a letter.
	bad := 0
	for r := rune(0x80); r <= 0x3ffff && bad < 10; r++ {
		s := "a" + string(r)
		p, err := precis.UsernameCaseMapped.String(s)
		if err != nil {
			continue
		}
		if Fold(p) != Fold(s) {
			t.Errorf("Fold(%q) = %q but Fold of its PRECIS form %q = %q", s, Fold(s), p, Fold(p))
			bad++
		}
	}
}

// legacyUser stores an internal user without the username check, as a
// store made before the check may hold one.
func legacyUser(t *testing.T, st *Store, name, email string) {
	t.Helper()
	err := st.update(func(tx *txKV) error {
		id, err := tx.nextSeq(bUsers)
		if err != nil {
			return err
		}
		return putUser(tx, id, nil, &userRec{Username: name, Email: email, Kind: Internal, Enabled: true, Created: 1, Modified: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestImport_UsernameThePrecisProfileRefusesIsAFailedEntry(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	spoof := person("bidi\u202egnp.exe")
	zwj := person("ad\u200dmin")
	run := importUsers(t, st, allOn, spoof, zwj, person("bob"))
	want := `username "bidi\u202egnp.exe" is not allowed: U+202E RIGHT-TO-LEFT OVERRIDE at position 5`
	if e := entryOf(t, run, spoof.Name); e.Action != ActionFailed || e.Reason != want {
		t.Errorf("the spoof's entry = %+v, want failed with %q", e, want)
	}
	if e := entryOf(t, run, zwj.Name); e.Action != ActionFailed || !strings.Contains(e.Reason, "U+200D ZERO WIDTH JOINER at position 3") {
		t.Errorf("the zero-width joiner's entry = %+v", e)
	}
	if run.Counts.Failed != 2 || run.Counts.Created != 1 {
		t.Errorf("counts %+v, want 2 failed and bob created", run.Counts)
	}
	if n := countUsers(t, st); n != 1 {
		t.Errorf("%d users stored, want only bob", n)
	}
	for _, name := range []string{spoof.Name, "bidiexe.png", "bidignp.exe", zwj.Name, "admin"} {
		if _, err := st.GetUser(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser(%q) = %v, want ErrNotFound", name, err)
		}
	}
	// The search results say so before anything is selected.
	c, err := st.Classify("dc01", []directory.Entry{spoof, person("carol")})
	if err != nil {
		t.Fatal(err)
	}
	if c[0].State != StateInvalid || c[0].Reason != want {
		t.Errorf("Classify(spoof) = %+v, want invalid with %q", c[0], want)
	}
	if c[1].State != StateNew {
		t.Errorf("Classify(carol) = %+v, want new", c[1])
	}
}

func TestImport_RefusedUsernameIsNeverLinkedRenamedOrMerged(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "bidiexe.png", Email: "victim@corp.example", Enabled: true})
	importUsers(t, st, allOn, person("bob"))

	// Same email as the internal user, MatchByEmail on: not linked.
	spoof := person("bidi\u202egnp.exe")
	spoof.Email = "victim@corp.example"
	// bob, renamed in the directory to a name the profile refuses.
	renamed := person("bob")
	renamed.Name = "bob\u200f"
	run := apply(t, st, Input{Users: []directory.Entry{spoof, renamed},
		Options: Options{AddNew: true, UpdateExisting: true, MatchByEmail: true, Enable: true}})
	for _, name := range []string{spoof.Name, renamed.Name} {
		if e := entryOf(t, run, name); e.Action != ActionFailed || !strings.Contains(e.Reason, "is not allowed") {
			t.Errorf("entry %q = %+v, want failed", name, e)
		}
	}
	if u := mustUser(t, st, "bidiexe.png"); u.Kind != Internal || u.ExternalID != "" || u.Source != "" {
		t.Errorf("the internal user was linked: %+v", u)
	}
	if u := mustUser(t, st, "bob"); u.Username != "bob" || u.DisplayName != "Display bob" {
		t.Errorf("bob was renamed or changed: %+v", u)
	}
	if n := countUsers(t, st); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
}

func TestStore_UsernamesStoredBeforeTheCheckStayFindable(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	legacyUser(t, st, "Anders Berg", "anders@corp.example")
	u, err := st.GetUser("anders berg")
	if err != nil || u.Username != "Anders Berg" {
		t.Fatalf("GetUser(anders berg) = %+v, %v", u, err)
	}
	if err := st.SetUserEnabled("ANDERS BERG", false); err != nil {
		t.Fatal(err)
	}
	// A directory entry of that name fails on its own name: it is neither
	// created beside the stored user nor merged with it.
	run := importUsers(t, st, allOn, person("Anders Berg"))
	if e := entryOf(t, run, "Anders Berg"); e.Action != ActionFailed || !strings.Contains(e.Reason, "U+0020 SPACE at position 7") {
		t.Errorf("entry = %+v, want failed naming the space", e)
	}
	// AddUser refuses the name itself, and its folded twin collides.
	if _, err := st.AddUser(User{Username: "anders berg"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddUser(anders berg) = %v, want ErrInvalid", err)
	}
	if u := mustUser(t, st, "Anders Berg"); u.Kind != Internal || u.Enabled {
		t.Errorf("the stored user changed: %+v", u)
	}
	if err := st.DeleteUser("anders berg"); err != nil {
		t.Fatal(err)
	}
	if n := countUsers(t, st); n != 0 {
		t.Errorf("%d users after delete", n)
	}
}

func TestUsernameProblem_LongHostileNamesAreQuick(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		strings.Repeat("é", 500) + "\u05d0",       // the Bidi Rule, at the end
		"a" + strings.Repeat("\u0308", 500) + " ", // marks that fail alone, fine in context
		strings.Repeat("\u200d", 300),             // joiners everywhere
	} {
		start := time.Now()
		p := usernameProblem(name)
		if p == "" {
			t.Errorf("usernameProblem allows a %d-byte hostile name", len(name))
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("usernameProblem took %v on a %d-byte name", d, len(name))
		}
	}
}

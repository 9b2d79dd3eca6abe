package importer

import (
	"reflect"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// shellWords splits a command line as a POSIX shell does for the quoting
// ShellQuote writes: plain words, and single-quoted strings with '\”.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quoted, started := false, false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case in && c == '\'':
			in = false
		case in:
			cur.WriteByte(c)
		case c == '\'':
			in, quoted, started = true, true, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			started = true
		case c == ' ':
			if started || quoted {
				words = append(words, cur.String())
			}
			cur.Reset()
			quoted, started = false, false
		default:
			cur.WriteByte(c)
			started = true
		}
	}
	if in {
		t.Fatalf("unterminated quote in %s", line)
	}
	if started || quoted {
		words = append(words, cur.String())
	}
	return words
}

// TestLDAP_CommandLineRoundTrips: a request rendered as a command line and
// read back is the same request, with every option.
func TestLDAP_CommandLineRoundTrips(t *testing.T) {
	for _, req := range []LDAP{
		{Server: "dc01", Query: "an*"},
		{Server: "dc01", Query: "an*", Select: Names{"andarm", "andbal"}},
		{Server: "dc 01", Query: "(&(uid=o'brien)(objectClass=person))", Select: Names{"o'brien", "Ann Lee"},
			Roles:  Assignments{{Role: "Viewer", Scope: "global"}, {Role: "Editor", Scope: "project x"}},
			Enable: true, CopyRolesFrom: "mentor"},
		{Server: "dc01", Query: "*", Roles: Assignments{{Role: "Viewer", Scope: "global"}}, Enable: true},
	} {
		line := req.CommandLine()
		words := shellWords(t, line)
		if len(words) < 3 || strings.Join(words[:3], " ") != "usersync import ldap" || words[len(words)-1] != "--yes" {
			t.Fatalf("command line %s", line)
		}
		back, err := ParseLDAP(words[3:])
		if err != nil {
			t.Fatalf("ParseLDAP(%s): %v", line, err)
		}
		if !reflect.DeepEqual(back, req) {
			t.Errorf("round trip of %s:\ngot  %+v\nwant %+v", line, back, req)
		}
	}
}

func TestLDAP_CommandLineSpelling(t *testing.T) {
	req := LDAP{Server: "dc01", Query: "an*", Roles: Assignments{{Role: "Viewer", Scope: "global"}, {Role: "Editor", Scope: "project-x"}}, Enable: true, CopyRolesFrom: "mentor"}
	want := "usersync import ldap --server dc01 --query 'an*' --select all --roles Viewer,Editor@project-x --enable --copy-roles-from mentor --yes"
	if got := req.CommandLine(); got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}
}

func TestEntra_CommandLineRoundTrips(t *testing.T) {
	for _, req := range []Entra{
		{Tenant: "contoso", Groups: []string{"Sales"}, AddNew: true},
		{Tenant: "contoso", Groups: []string{"g-1", "O'Brien's team", "Field Sales"}, AddNew: true, UpdateExisting: true,
			Roles: Assignments{{Role: "Viewer", Scope: "global"}, {Role: "Editor", Scope: "project x"}}},
		{Tenant: "con toso", Groups: []string{"Sales"}, UpdateExisting: true},
	} {
		line := req.CommandLine()
		words := shellWords(t, line)
		if strings.Join(words[:3], " ") != "usersync import entra" {
			t.Fatalf("command line %s", line)
		}
		back, err := ParseEntra(words[3:])
		if err != nil {
			t.Fatalf("ParseEntra(%s): %v", line, err)
		}
		if !reflect.DeepEqual(back, req) {
			t.Errorf("round trip of %s:\ngot  %+v\nwant %+v", line, back, req)
		}
	}
}

func TestSync_CommandLineRoundTrips(t *testing.T) {
	for _, req := range []Sync{
		{Groups: []string{"Sales", "Field Engineers"}},
		{All: true, Force: true},
	} {
		words := shellWords(t, req.CommandLine())
		back, err := ParseSync(words[2:])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, req) {
			t.Errorf("round trip of %s:\ngot  %+v\nwant %+v", req.CommandLine(), back, req)
		}
	}
}

// TestOptions_PerDirectoryKind: the store options each request makes.
func TestOptions_PerDirectoryKind(t *testing.T) {
	l := LDAP{Enable: true, Roles: Assignments{{Role: "Viewer"}}, CopyRolesFrom: "mentor"}
	if o := l.Options(); !o.AddNew || !o.UpdateExisting || !o.Enable || o.CopyRolesFrom != "mentor" || o.MatchByEmail || o.RequireEmail {
		t.Errorf("LDAP options %+v", o)
	}
	e := Entra{UpdateExisting: true}
	if note := e.Defaulted(); note != "" {
		t.Errorf("Defaulted with --update-existing: %q", note)
	}
	if o := e.Options(); o.AddNew || !o.UpdateExisting || !o.Enable || !o.MatchByEmail || !o.RequireEmail {
		t.Errorf("Entra options %+v", o)
	}
	none := Entra{}
	if note := none.Defaulted(); note == "" || !none.AddNew {
		t.Errorf("neither flag: %q %+v", note, none)
	}
	s := Sync{Force: true}
	if o := s.Options(directory.KindEntra); !o.Sync || !o.Force || !o.MatchByEmail || !o.RequireEmail {
		t.Errorf("Entra sync options %+v", o)
	}
	if o := s.Options(directory.KindLDAP); !o.Sync || o.MatchByEmail {
		t.Errorf("LDAP sync options %+v", o)
	}
}

func TestWarnings_CaseEmailsNoEmailDisabled(t *testing.T) {
	user := func(name, email string) directory.Entry {
		return directory.Entry{Type: directory.TypeUser, ExternalID: "uuid-" + name, Name: name, Email: email}
	}
	a := user("andbal", "dup@example.org")
	b := user("AndBal", "other@example.org")
	c := user("carl", "DUP@example.org")
	d := user("dora", "")
	e := user("eve", "eve@example.org")
	e.Disabled = true
	g := directory.Entry{Type: directory.TypeGroup, ExternalID: "g", Name: "Analysis", Disabled: true}
	got := Warnings([]directory.Entry{a, b, c, d, e, g, a})
	want := []string{
		"AndBal, andbal differ only in case",
		"2 users share the email dup@example.org: andbal, carl.",
		"1 user has no email address: dora.",
		"2 entries are disabled in the directory and will be imported disabled: eve, Analysis.",
	}
	if len(got) != len(want) {
		t.Fatalf("warnings:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\ngot  %s\nwant %s…", i, got[i], want[i])
		}
	}
	// The fold is the store's: a fullwidth name collides with its ASCII twin.
	if w := Warnings([]directory.Entry{user("ａｎｄｙ", "a@x"), user("Andy", "b@x")}); len(w) != 1 || store.Fold("ａｎｄｙ") != store.Fold("Andy") {
		t.Errorf("fullwidth and ASCII twins: %v", w)
	}
}

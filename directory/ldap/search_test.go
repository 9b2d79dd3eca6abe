package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// peopleData is a small directory: people with and without mail, names
// with escaped commas, plus signs and unicode, and a few groups.
func peopleData() *slapdtest.Data {
	d := slapdtest.NewData("")
	anna := d.AddUser(slapdtest.User{UID: "anna", CN: "Anna Berg", GivenName: "Anna", SN: "Berg", Mail: "anna@example.com"})
	andrei := d.AddUser(slapdtest.User{UID: "andrei", CN: "Andrei Popescu", GivenName: "Andrei", SN: "Popescu", Mail: "andrei@example.com"})
	d.AddUser(slapdtest.User{UID: "bob", CN: "Bob Stone", GivenName: "Bob", SN: "Stone"}) // no mail
	d.AddUser(slapdtest.User{UID: "yperez", CN: "Perez, Yusuf", GivenName: "Yusuf", SN: "Perez", RDN: "cn", Mail: "yusuf@example.com"})
	d.AddUser(slapdtest.User{UID: "smithjones", CN: "Smith+Jones", SN: "Smith-Jones", RDN: "cn"})
	d.AddUser(slapdtest.User{UID: "zoe", CN: "Zoë Ångström", GivenName: "Zoë", SN: "Ångström", RDN: "cn", DisplayName: "Zoë Å."})
	d.AddUser(slapdtest.User{UID: "literal", CN: "weird x)(uid=y name", SN: "Weird"})
	d.AddGroup(slapdtest.Group{CN: "analysts", Members: []string{anna, andrei}})
	d.AddGroup(slapdtest.Group{CN: "builders", Members: []string{anna}})
	return d
}

func TestSearch_WildcardMatchesNameAttributes(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{Data: peopleData()})
	d := open(t, s.Config())

	tests := []struct {
		query string
		want  []string
	}{
		{"an*", []string{"analysts", "andrei", "anna"}},
		{"AN*", []string{"analysts", "andrei", "anna"}},
		{"anna", []string{"anna"}},
		{"*stone", []string{"bob"}},          // surname / cn
		{"yusuf@*", []string{"yperez"}},      // mail
		{"Perez, Yusuf", []string{"yperez"}}, // cn with a comma
		{"Smith+*", []string{"smithjones"}},  // plus sign
		{"Zoë*", []string{"zoe"}},            // unicode given name
		{"*Ångström", []string{"zoe"}},       // unicode surname
		{"Zoë Å.", []string{"zoe"}},          // display name
		{"a**ysts", []string{"analysts"}},    // runs of * are one
		{"nobody*", nil},                     // nothing
		{"build*", []string{"builders"}},     // groups by cn
		{"x)(uid=y*", nil},                   // literal text, and no entry starts with it
		{"*x)(uid=y*", []string{"literal"}},  // found literally
		{"", []string{"analysts", "andrei", "anna", "bob", "builders", "literal", "smithjones", "yperez", "zoe"}},
	}
	for _, tt := range tests {
		got := names(search(t, d, tt.query))
		if !slices.Equal(got, tt.want) {
			t.Errorf("Search(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestSearch_InjectionInPlainTextChangesNothing(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{Data: peopleData()})
	d := open(t, s.Config())
	tests := []struct {
		query string
		want  []string
	}{
		// Only "literal" has ")(uid=" in a name: a literal match.
		{"*)(uid=*", []string{"literal"}},
		{"*)(|(uid=*", nil},
		{"bob)(|(objectClass=*)", nil},
		{"*))(|(objectClass=*", nil},
		{`\2a`, nil},
		{`anna\`, nil},
		{"*)(&", nil},
		{"\x00", nil},
	}
	for _, tt := range tests {
		if got := names(search(t, d, tt.query)); !slices.Equal(got, tt.want) {
			t.Errorf("Search(%q) = %v, want %v: the text must be matched literally", tt.query, got, tt.want)
		}
	}
}

func TestSearch_RawFilter(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{Data: peopleData()})
	d := open(t, s.Config())
	tests := []struct {
		filter string
		want   []string
	}{
		{"(uid=bob)", []string{"bob"}},
		{"(|(uid=anna)(cn=builders))", []string{"anna", "builders"}},
		{"(!(mail=*))", []string{"analysts", "bob", "builders", "literal", "smithjones", "zoe"}},
		{"(&(objectClass=inetOrgPerson)(!(mail=*)))", []string{"bob", "literal", "smithjones", "zoe"}},
		{"(cn=Perez, Yusuf)", []string{"yperez"}},
	}
	for _, tt := range tests {
		got := names(search(t, d, tt.filter))
		if !slices.Equal(got, tt.want) {
			t.Errorf("Search(%q) = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestSearch_MalformedFilterSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{Data: peopleData()})
	d := open(t, s.Config())
	tests := []struct{ filter, want string }{
		{"(uid=an", `invalid LDAP filter "(uid=an": unexpected end of filter`},
		{"(uid=an))", `invalid LDAP filter "(uid=an))": finished compiling filter with extra at end: )`},
		{"(&(uid=a)", `invalid LDAP filter "(&(uid=a)"`},
		{`(uid=\zz)`, `invalid LDAP filter "(uid=\zz)": invalid characters for escape in filter`},
	}
	for _, tt := range tests {
		called := false
		err := d.Search(testContext(t), tt.filter, func(directory.Entry) error { called = true; return nil })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Search(%q) error = %v, want it to contain %q", tt.filter, err, tt.want)
		}
		if called {
			t.Errorf("Search(%q) returned entries for a malformed filter", tt.filter)
		}
	}
}

func TestSearch_MapsUserAttributes(t *testing.T) {
	t.Parallel()
	data := peopleData()
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	got := search(t, d, "*")

	bob, _ := byName(got, "bob")
	if bob.Email != "" || bob.Type != directory.TypeUser || bob.Disabled {
		t.Errorf("bob = %+v, want an enabled user without email", bob)
	}
	anna, _ := byName(got, "anna")
	wantDN := "uid=anna," + data.PeopleDN()
	if anna.ExternalID != slapdtest.UUID(wantDN) || anna.DN != wantDN || anna.Email != "anna@example.com" || anna.DisplayName != "Anna Berg" {
		t.Errorf("anna = %+v", anna)
	}
	zoe, _ := byName(got, "zoe")
	if zoe.DisplayName != "Zoë Å." {
		t.Errorf("zoe's display name = %q", zoe.DisplayName)
	}
	analysts, _ := byName(got, "analysts")
	if analysts.Type != directory.TypeGroup || analysts.MemberCount != 2 {
		t.Errorf("analysts = %+v, want a group of 2", analysts)
	}
	for _, e := range got {
		if e.ExternalID == "" || strings.Contains(e.ExternalID, "=") {
			t.Errorf("%s has external ID %q, want its entryUUID", e.Name, e.ExternalID)
		}
	}
}

func TestSearch_EntryWithoutExternalIDIsAnErrorRowNotTheDN(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUser(slapdtest.User{UID: "has", Attrs: map[string][]string{"employeeNumber": {"E1"}}})
	data.AddUser(slapdtest.User{UID: "lacks"})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	cfg := s.Config()
	cfg.Attributes.ExternalID = "employeeNumber"
	d := open(t, cfg)
	got := search(t, d, "*")
	has, _ := byName(got, "has")
	lacks, ok := byName(got, "lacks")
	if has.ExternalID != "E1" {
		t.Errorf("has: ExternalID = %q, want E1", has.ExternalID)
	}
	if !ok || lacks.ExternalID != "" || lacks.DN == "" {
		t.Errorf("lacks = %+v, want a row with an empty ExternalID and its DN", lacks)
	}
}

func TestSearch_SeparateUserAndGroupBases(t *testing.T) {
	t.Parallel()
	data := peopleData()
	other := data.OU("elsewhere")
	data.AddUser(slapdtest.User{UID: "annex", Parent: other})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	cfg := s.Config()
	cfg.UserBaseDN = data.PeopleDN()
	cfg.GroupBaseDN = data.GroupsDN()
	d := open(t, cfg)
	if got, want := names(search(t, d, "an*")), []string{"analysts", "andrei", "anna"}; !slices.Equal(got, want) {
		t.Errorf("Search = %v, want %v (annex is outside user_base_dn)", got, want)
	}
}

func TestSearch_StreamsAllPages(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(1234, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	cfg := s.Config()
	cfg.PageSize = 100
	d := open(t, cfg)
	seen := map[string]bool{}
	res, err := d.SearchDetailed(testContext(t), "u*", func(e directory.Entry) error {
		if seen[e.ExternalID] {
			t.Errorf("%s delivered twice", e.Name)
		}
		seen[e.ExternalID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1234 || res.Entries != 1234 {
		t.Errorf("got %d entries (%d counted), want 1234", len(seen), res.Entries)
	}
}

func TestSearch_ErrorFromFnStopsTheSearch(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(300, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	stop := errors.New("enough")
	n := 0
	err := d.Search(testContext(t), "*", func(directory.Entry) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("err = %v after %d entries, want %v after 10", err, n, stop)
	}
	// The connection is still usable.
	if got := search(t, d, "u000001"); len(got) != 1 {
		t.Errorf("search after a stopped search: %v", names(got))
	}
}

func TestSearch_CancelAbandonsAndIsIncomplete(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(3000, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	ctx, cancel := context.WithCancel(testContext(t))
	n, after := 0, 0
	err := d.Search(ctx, "*", func(directory.Entry) error {
		n++
		if ctx.Err() != nil {
			after++
		}
		if n == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want ErrIncomplete and context.Canceled", err)
	}
	if after != 0 || n != 5 {
		t.Errorf("fn called %d times, %d after cancel; want 5 and 0", n, after)
	}
	if got := search(t, d, "u000042"); len(got) != 1 {
		t.Errorf("search after a cancelled search: %v", names(got))
	}
}

func TestSearch_ServerKilledMidwayIsIncomplete(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(5000, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	cfg := s.Config()
	cfg.PageSize = 200
	d := open(t, cfg)
	n := 0
	err := d.Search(testContext(t), "*", func(directory.Entry) error {
		n++
		if n == 100 {
			s.Kill()
		}
		return nil
	})
	if !errors.Is(err, directory.ErrIncomplete) {
		t.Fatalf("Search after kill: err = %v (%d entries), want ErrIncomplete", err, n)
	}
	if n >= 5000 {
		t.Errorf("got all %d entries from a killed server?", n)
	}
	t.Logf("error after %d entries: %v", n, err)
}

func TestSearch_SizeLimitIsIncomplete(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(120, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data, SizeLimit: 50})
	d := open(t, s.Config())
	n := 0
	err := d.Search(testContext(t), "u*", func(directory.Entry) error { n++; return nil })
	if !errors.Is(err, directory.ErrIncomplete) || !strings.Contains(err.Error(), "size limit") {
		t.Errorf("err = %v, want ErrIncomplete naming the size limit", err)
	}
	if n > 50 {
		t.Errorf("%d entries past a size limit of 50", n)
	}
}

func TestSearch_ReferralsAreRecordedNotErrors(t *testing.T) {
	t.Parallel()
	data := peopleData()
	data.AddEntry("ou=branch,"+data.Suffix(), map[string][]string{
		"objectClass": {"referral", "extensibleObject"},
		"ou":          {"branch"},
		"ref":         {"ldap://branch.example.com/ou=branch,dc=example,dc=com"},
	})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d := open(t, s.Config())
	var got []directory.Entry
	res, err := d.SearchDetailed(testContext(t), "an*", func(e directory.Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("a referral must not fail the search: %v", err)
	}
	if want := []string{"analysts", "andrei", "anna"}; !slices.Equal(names(got), want) {
		t.Errorf("entries = %v, want %v", names(got), want)
	}
	if len(res.Referrals) != 1 || !strings.Contains(res.Referrals[0], "branch.example.com") {
		t.Errorf("referrals = %v, want the one to branch.example.com", res.Referrals)
	}
}

func TestSearch_BaseDNMissing(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{Data: peopleData()})
	cfg := s.Config()
	cfg.UserBaseDN = "ou=nobody,dc=example,dc=com"
	d := open(t, cfg)
	err := d.Search(testContext(t), "an*", func(directory.Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "ou=nobody,dc=example,dc=com does not exist") {
		t.Errorf("err = %v, want it to say the base DN does not exist", err)
	}
}

func ExampleDirectory_Search() {
	d, err := ldap.Open(context.Background(), ldap.Config{
		Name: "dc01", URL: "ldaps://dc01.corp.example:636", BaseDN: "DC=corp,DC=example",
		BindDN: "CN=svc-usersync,OU=Service,DC=corp,DC=example", Password: "from the environment",
		Flavor: ldap.FlavorActiveDirectory,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	_ = d.Search(context.Background(), "an*", func(e directory.Entry) error {
		fmt.Println(e.Type, e.Name, e.ExternalID)
		return nil
	})
}

func TestClose_DuringASearchEndsIt(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(2000, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	d, err := ldap.Open(testContext(t), s.Config())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = d.Search(testContext(t), "*", func(directory.Entry) error {
		if n++; n == 10 {
			d.Close()
		}
		return nil
	})
	if !errors.Is(err, directory.ErrIncomplete) || n != 10 {
		t.Errorf("err = %v after %d entries, want ErrIncomplete after 10", err, n)
	}
	if err := d.Search(testContext(t), "*", func(directory.Entry) error { return nil }); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("search on a closed directory: %v", err)
	}
}

package store

import (
	"errors"
	"slices"
	"testing"

	"github.com/usersync/usersync/directory"
)

func TestAddUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		u       User
		wantErr error
	}{
		{"a new internal user", User{Username: "bob", Email: "bob@x", Enabled: true}, nil},
		{"a case-folded collision", User{Username: "AAndrei"}, ErrExists},
		{"a full-width collision", User{Username: "ａａｎｄｒｅｉ"}, ErrExists},
		{"an unknown role", User{Username: "carol", Roles: []Assignment{{Role: "Overlord"}}}, ErrNotFound},
		{"an empty name", User{Username: ""}, ErrInvalid},
		{"a name with a newline", User{Username: "a\nb"}, ErrInvalid},
		{"a name with trailing space", User{Username: "dora "}, ErrInvalid},
	}
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "aandrei"})
	for _, tt := range tests {
		_, err := st.AddUser(tt.u)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%s: AddUser = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
}

func TestAddUser_IgnoresExternalFieldsAndFillsScopes(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	u := mustAddUser(t, st, User{Username: "Bob", Kind: External, Source: "dc01", ExternalID: "x",
		Roles: []Assignment{{Role: "editor"}, {Role: "Viewer", Scope: "crm"}, {Role: "EDITOR", Scope: GlobalScope}}})
	if u.Kind != Internal || u.Source != "" || u.ExternalID != "" {
		t.Errorf("AddUser kept external fields: %+v", u)
	}
	want := []Assignment{{"Editor", GlobalScope}, {"Viewer", "crm"}}
	if got := mustUser(t, st, "bob").Roles; !slices.Equal(got, want) {
		t.Errorf("roles %v, want %v", got, want)
	}
	c, _ := st.Classify("dc01", []directory.Entry{person("bob")})
	if c[0].State != StateBlockedInternal {
		t.Errorf("an internal user's name classifies as %v", c[0])
	}
}

func TestDeleteUser_RemovesIndexesAndMemberships(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"), person("carol"))}}, Options: allOn})
	if err := st.DeleteUser("BOB"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetUser("bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUser after delete: %v", err)
	}
	if got := groupMembers(t, st, "Sales"); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("members after delete %v", got)
	}
	if err := st.DeleteUser("bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// The name, email and external ID are free again.
	run := importUsers(t, st, allOn, person("bob"))
	if run.Counts.Created != 1 {
		t.Errorf("re-import after delete: %+v", run.Entries)
	}
}

func TestSetUserEnabled(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "bob"})
	if err := st.SetUserEnabled("Bob", true); err != nil || !mustUser(t, st, "bob").Enabled {
		t.Errorf("enable: %v", err)
	}
	if err := st.SetUserEnabled("bob", false); err != nil || mustUser(t, st, "bob").Enabled {
		t.Errorf("disable: %v", err)
	}
	if err := st.SetUserEnabled("nobody", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestListUsers_FiltersAndSortsIgnoringCase(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	mustAddUser(t, st, User{Username: "Zoe", DisplayName: "Zoë Zed"})
	mustAddUser(t, st, User{Username: "adam", Email: "adam@corp.example"})
	apply(t, st, Input{Source: "dc02", Users: []directory.Entry{person("Mallory")}, Options: allOn})
	apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"))}}, Options: allOn})
	names := func(f UserFilter) []string {
		us, err := st.ListUsers(f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	tests := []struct {
		f    UserFilter
		want []string
	}{
		{UserFilter{}, []string{"adam", "bob", "Mallory", "Zoe"}},
		{UserFilter{Kind: Internal}, []string{"adam", "Zoe"}},
		{UserFilter{Kind: External, Source: "dc02"}, []string{"Mallory"}},
		{UserFilter{Search: "ZOË"}, []string{"Zoe"}},
		{UserFilter{Search: "CORP.example"}, []string{"adam"}},
		{UserFilter{Search: "example.com"}, []string{"bob", "Mallory"}},
	}
	for _, tt := range tests {
		if got := names(tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("ListUsers(%+v) = %v, want %v", tt.f, got, tt.want)
		}
	}
	us, _ := st.ListUsers(UserFilter{Search: "bob"})
	if !slices.Equal(us[0].Groups, []string{"Sales"}) {
		t.Errorf("bob's groups %v", us[0].Groups)
	}
	gs, err := st.ListGroups()
	if err != nil || len(gs) != 1 || !slices.Equal(gs[0].Members, []string{"bob"}) {
		t.Errorf("ListGroups = %+v, %v", gs, err)
	}
}

func TestRoles_AssignUnassignCopyAndEffective(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	if err := st.AddRole(Role{Name: "Auditor", Description: "Reads the audit log"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddRole(Role{Name: "AUDITOR"}); !errors.Is(err, ErrExists) {
		t.Errorf("AddRole of a folded duplicate: %v", err)
	}
	apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales", person("bob"))}}, Options: allOn})
	mustAddUser(t, st, User{Username: "mentor", Roles: []Assignment{{Role: "Editor", Scope: "crm"}}})

	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"assign to a user", func() error { return st.Assign("bob", Assignment{Role: "auditor"}) }, nil},
		{"assign again is a no-op", func() error { return st.Assign("BOB", Assignment{Role: "Auditor", Scope: GlobalScope}) }, nil},
		{"assign to a group", func() error { return st.Assign("sales", Assignment{Role: "Viewer", Scope: "crm"}) }, nil},
		{"assign an unknown role", func() error { return st.Assign("bob", Assignment{Role: "Overlord"}) }, ErrNotFound},
		{"assign to nobody", func() error { return st.Assign("nobody", Assignment{Role: "Viewer"}) }, ErrNotFound},
		{"copy assignments", func() error { _, err := st.CopyAssignments("mentor", "bob"); return err }, nil},
		{"unassign what is not held", func() error { return st.Unassign("bob", Assignment{Role: "Administrator"}) }, ErrNotFound},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	eff, err := st.EffectiveRoles("bob")
	if err != nil {
		t.Fatal(err)
	}
	want := []EffectiveAssignment{
		{Assignment{"Auditor", GlobalScope}, ""},
		{Assignment{"Editor", "crm"}, ""},
		{Assignment{"Viewer", "crm"}, "Sales"},
	}
	if !slices.Equal(eff, want) {
		t.Errorf("EffectiveRoles = %+v, want %+v", eff, want)
	}
	if err := st.Unassign("bob", Assignment{Role: "auditor"}); err != nil {
		t.Fatal(err)
	}
	if got := mustUser(t, st, "bob").Roles; !slices.Equal(got, []Assignment{{"Editor", "crm"}}) {
		t.Errorf("roles after unassign %v", got)
	}
}

func TestAddMember_InternalGroupsOnly(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	if _, err := st.AddGroup(Group{Name: "Staff", Roles: []Assignment{{Role: "Viewer"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddGroup(Group{Name: "STAFF"}); !errors.Is(err, ErrExists) {
		t.Errorf("AddGroup of a folded duplicate: %v", err)
	}
	mustAddUser(t, st, User{Username: "bob"})
	if err := st.AddMember("staff", "bob"); err != nil {
		t.Fatal(err)
	}
	apply(t, st, Input{Groups: []GroupInput{{Read: groupRead("Sales")}}, Options: allOn})
	if err := st.AddMember("Sales", "bob"); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddMember to an external group: %v", err)
	}
	if eff, _ := st.EffectiveRoles("bob"); len(eff) != 1 || eff[0].Via != "Staff" {
		t.Errorf("EffectiveRoles = %+v", eff)
	}
}

package ldap_test

import (
	"slices"
	"testing"

	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// slapd has no Active Directory schema: the active-directory flavor is
// tested with its attribute names overridden onto inetOrgPerson ones —
// employeeType carries a userAccountControl number. objectGUID decoding is
// tested on its own (TestDecodeGUID).
func TestFlavor_ActiveDirectoryDisabledUserThroughOverrides(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	on := data.AddUser(slapdtest.User{UID: "enabled", Attrs: map[string][]string{"employeeType": {"512"}}})
	off := data.AddUser(slapdtest.User{UID: "disabled", Attrs: map[string][]string{"employeeType": {"514"}}})
	locked := data.AddUser(slapdtest.User{UID: "disabled-pwd-never-expires", Attrs: map[string][]string{"employeeType": {"66050"}}})
	plain := data.AddUser(slapdtest.User{UID: "no-uac"})
	g := data.AddGroup(slapdtest.Group{CN: "staff", Members: []string{on, off, locked, plain}})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})

	cfg := s.Config()
	cfg.Flavor = ldap.FlavorActiveDirectory
	cfg.Attributes = ldap.Attributes{
		Username:   "uid",
		ExternalID: "entryUUID",
		UserClass:  "inetOrgPerson",
		GroupClass: "groupOfNames",
		Disabled:   "employeeType",
	}
	d := open(t, cfg)
	if d.Flavor() != ldap.FlavorActiveDirectory {
		t.Fatalf("flavor = %s", d.Flavor())
	}
	want := map[string]bool{"enabled": false, "disabled": true, "disabled-pwd-never-expires": true, "no-uac": false}
	found := search(t, d, "*")
	for name, disabled := range want {
		e, ok := byName(found, name)
		if !ok || e.Disabled != disabled {
			t.Errorf("%s: found %v, Disabled = %v, want %v", name, ok, e.Disabled, disabled)
		}
	}
	read := readGroup(t, d, g)
	if got := memberNames(read); !slices.Equal(got, []string{"disabled", "disabled-pwd-never-expires", "enabled", "no-uac"}) || !read.Complete() {
		t.Errorf("members = %v, incomplete %q", got, read.Incomplete)
	}
	for _, m := range read.Members {
		if m.Disabled != want[m.Name] {
			t.Errorf("member %s Disabled = %v", m.Name, m.Disabled)
		}
	}
}

func TestFlavor_FreeIPAStyleLockThroughOverrides(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUser(slapdtest.User{UID: "locked", Attrs: map[string][]string{"employeeType": {"TRUE"}}})
	data.AddUser(slapdtest.User{UID: "open", Attrs: map[string][]string{"employeeType": {"FALSE"}}})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	cfg := s.Config()
	cfg.Flavor = ldap.FlavorFreeIPA
	cfg.Attributes = ldap.Attributes{ExternalID: "entryUUID", GroupClass: "groupOfNames", Disabled: "employeeType"}
	found := search(t, open(t, cfg), "*")
	if e, _ := byName(found, "locked"); !e.Disabled {
		t.Errorf("locked = %+v", e)
	}
	if e, _ := byName(found, "open"); e.Disabled || e.ExternalID == "" {
		t.Errorf("open = %+v", e)
	}
}

func TestFlavor_OpenLDAPAdministrativeLock(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUser(slapdtest.User{UID: "anna"})
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	// Without the ppolicy overlay there is no pwdAccountLockedTime: asking
	// for it is harmless and nobody is disabled.
	if e, _ := byName(search(t, open(t, s.Config()), "anna"), "anna"); e.Disabled {
		t.Errorf("anna = %+v", e)
	}
}

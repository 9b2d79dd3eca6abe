package ldap

import (
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// The flavors a Config may name.
const (
	FlavorOpenLDAP        = "openldap"
	FlavorActiveDirectory = "active-directory"
	FlavorFreeIPA         = "freeipa"
)

// idKind says how an external ID is stored: as text, or as AD's 16-byte
// binary GUID.
type idKind int

const (
	idText idKind = iota
	idGUID
)

// disabledKind says how the disabled attribute is read.
type disabledKind int

const (
	disabledNone    disabledKind = iota
	disabledUAC                  // userAccountControl: bit 0x2
	disabledBool                 // nsAccountLock and the like: "TRUE"
	disabledPwdLock              // pwdAccountLockedTime: "000001010000Z" is an administrative lock
)

// schema is a flavor's preset with the configured overrides applied: every
// attribute and filter the adapter uses, in one place.
type schema struct {
	flavor string

	username    string
	externalID  string
	idKind      idKind
	displayName string
	email       string
	upn         string // AD userPrincipalName: fallback email and username
	cn          string
	givenName   string
	surname     string
	disabled    string
	disabledAs  disabledKind

	groupName   string
	memberAttrs []string // DN-valued member attributes (member, uniqueMember)
	memberUID   string   // posixGroup memberUid (usernames), "" when unused
	memberOf    string

	userClasses  []string
	groupClasses []string
	userFilter   string
	groupFilter  string

	// primaryGroup is true for Active Directory: a user's primary group is
	// implied by primaryGroupID and never listed in the group's member.
	primaryGroup bool
}

func classFilter(classes []string) string {
	if len(classes) == 1 {
		return "(objectClass=" + goldap.EscapeFilter(classes[0]) + ")"
	}
	var b strings.Builder
	b.WriteString("(|")
	for _, c := range classes {
		b.WriteString("(objectClass=" + goldap.EscapeFilter(c) + ")")
	}
	b.WriteString(")")
	return b.String()
}

// newSchema resolves the flavor preset and the overrides of cfg.
func newSchema(flavor string, o Attributes) (*schema, error) {
	var s schema
	switch strings.ToLower(strings.TrimSpace(flavor)) {
	case "", FlavorOpenLDAP:
		s = schema{
			flavor:       FlavorOpenLDAP,
			username:     "uid",
			externalID:   "entryUUID",
			displayName:  "displayName",
			email:        "mail",
			cn:           "cn",
			givenName:    "givenName",
			surname:      "sn",
			disabled:     "pwdAccountLockedTime",
			disabledAs:   disabledPwdLock,
			groupName:    "cn",
			memberAttrs:  []string{"member", "uniqueMember"},
			memberUID:    "memberUid",
			memberOf:     "memberOf",
			userClasses:  []string{"inetOrgPerson"},
			groupClasses: []string{"groupOfNames", "groupOfUniqueNames", "posixGroup"},
		}
	case FlavorActiveDirectory, "ad", "activedirectory":
		s = schema{
			flavor:       FlavorActiveDirectory,
			username:     "sAMAccountName",
			externalID:   "objectGUID",
			displayName:  "displayName",
			email:        "mail",
			upn:          "userPrincipalName",
			cn:           "cn",
			givenName:    "givenName",
			surname:      "sn",
			disabled:     "userAccountControl",
			disabledAs:   disabledUAC,
			groupName:    "cn",
			memberAttrs:  []string{"member"},
			memberOf:     "memberOf",
			userClasses:  []string{"user"},
			groupClasses: []string{"group"},
			// Computers are users too in AD: keep to people.
			userFilter:   "(&(objectCategory=person)(objectClass=user))",
			primaryGroup: true,
		}
	case FlavorFreeIPA, "ipa":
		s = schema{
			flavor:       FlavorFreeIPA,
			username:     "uid",
			externalID:   "ipaUniqueID",
			displayName:  "displayName",
			email:        "mail",
			cn:           "cn",
			givenName:    "givenName",
			surname:      "sn",
			disabled:     "nsAccountLock",
			disabledAs:   disabledBool,
			groupName:    "cn",
			memberAttrs:  []string{"member"},
			memberOf:     "memberOf",
			userClasses:  []string{"inetOrgPerson"},
			groupClasses: []string{"ipaUserGroup"},
		}
	default:
		return nil, fmt.Errorf("flavor %q is not one of %s, %s, %s", flavor,
			FlavorOpenLDAP, FlavorActiveDirectory, FlavorFreeIPA)
	}

	set := func(dst *string, v string) {
		if v = strings.TrimSpace(v); v != "" {
			*dst = v
		}
	}
	set(&s.username, o.Username)
	set(&s.displayName, o.DisplayName)
	set(&s.email, o.Email)
	set(&s.groupName, o.GroupName)
	set(&s.memberOf, o.MemberOf)
	if v := strings.TrimSpace(o.ExternalID); v != "" {
		s.externalID = v
	}
	s.idKind = idText
	if strings.EqualFold(s.externalID, "objectGUID") {
		s.idKind = idGUID
	}
	if v := strings.TrimSpace(o.Member); v != "" {
		if strings.EqualFold(v, "memberUid") {
			s.memberAttrs, s.memberUID = nil, v
		} else {
			s.memberAttrs = []string{v}
		}
	}
	if v := strings.TrimSpace(o.Disabled); v != "" {
		s.disabled = v
		switch {
		case strings.EqualFold(v, "userAccountControl"), s.flavor == FlavorActiveDirectory:
			s.disabledAs = disabledUAC
		case strings.EqualFold(v, "pwdAccountLockedTime"):
			s.disabledAs = disabledPwdLock
		default:
			s.disabledAs = disabledBool
		}
	}
	if v := strings.TrimSpace(o.UserClass); v != "" {
		s.userClasses = []string{v}
		s.userFilter = ""
	}
	if v := strings.TrimSpace(o.GroupClass); v != "" {
		s.groupClasses = []string{v}
		s.groupFilter = ""
	}
	if s.userFilter == "" {
		s.userFilter = classFilter(s.userClasses)
	}
	if s.groupFilter == "" {
		s.groupFilter = classFilter(s.groupClasses)
	}
	for _, name := range []string{s.username, s.externalID, s.displayName, s.email, s.groupName, s.memberOf} {
		if err := checkAttrName(name); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// checkAttrName refuses attribute names that could change a filter's
// structure when written into one.
func checkAttrName(name string) error {
	for _, r := range name {
		ok := r == '-' || r == '.' || r == ';' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("attribute name %q: only letters, digits, '-', '.' and ';' are allowed", name)
		}
	}
	return nil
}

// searchAttrs are the attributes plain-text user searches are matched
// against: username, common name, given name, surname, display name, mail.
func (s *schema) searchAttrs() []string {
	return dedupFold([]string{s.username, s.cn, s.givenName, s.surname, s.displayName, s.email})
}

// userAttrs are the attributes requested for users: only those mapped
// (every value costs go-ldap several allocations to decode).
func (s *schema) userAttrs() []string {
	a := []string{s.username, s.externalID, s.displayName, s.cn, s.email}
	if s.upn != "" {
		a = append(a, s.upn)
	}
	if s.disabled != "" {
		a = append(a, s.disabled)
	}
	return dedupFold(a)
}

// groupAttrs are the attributes requested for groups in search results:
// their names and the plain member attributes (to count members).
func (s *schema) groupAttrs() []string {
	a := []string{"objectClass", s.groupName, s.externalID, s.displayName}
	a = append(a, s.memberAttrs...)
	if s.memberUID != "" {
		a = append(a, s.memberUID)
	}
	return dedupFold(a)
}

// isGroup tells a group entry from a user entry by its object classes.
func (s *schema) isGroup(e *goldap.Entry) bool {
	for _, oc := range e.GetEqualFoldAttributeValues("objectClass") {
		for _, g := range s.groupClasses {
			if strings.EqualFold(oc, g) {
				return true
			}
		}
	}
	return false
}

func dedupFold(in []string) []string {
	out := in[:0:0]
	for _, v := range in {
		if v == "" {
			continue
		}
		dup := false
		for _, w := range out {
			if strings.EqualFold(v, w) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

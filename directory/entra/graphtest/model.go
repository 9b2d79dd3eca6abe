package graphtest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Tenant is the directory a Server serves: its users and groups.
type Tenant struct {
	// ID is the tenant id (a GUID). Requests for another tenant are
	// refused, except "organizations" and "common". Empty accepts any.
	ID string
	// Domain is the tenant's initial domain (contoso.onmicrosoft.com); it is
	// accepted in place of ID.
	Domain string
	Users  []User
	Groups []Group
}

// User is one Entra user account, with the properties usersync maps.
type User struct {
	ID                string
	DisplayName       string
	GivenName         string
	Surname           string
	Mail              string // empty: the user has no mailbox
	UserPrincipalName string
	MailNickname      string
	AccountEnabled    bool
	// UserType is "Member" or "Guest".
	UserType string
}

// Group is one Entra group. Members are user ids; Groups are the ids of
// nested groups, whose users count as transitive members.
type Group struct {
	ID          string
	DisplayName string
	Description string
	Mail        string
	Members     []string
	Groups      []string
}

// User returns the user with the given id, or nil.
func (t *Tenant) User(id string) *User {
	for i := range t.Users {
		if t.Users[i].ID == id {
			return &t.Users[i]
		}
	}
	return nil
}

// Group returns the group with the given id, or nil.
func (t *Tenant) Group(id string) *Group {
	for i := range t.Groups {
		if t.Groups[i].ID == id {
			return &t.Groups[i]
		}
	}
	return nil
}

// GroupByName returns the first group whose display name is name
// (case-insensitively), or nil.
func (t *Tenant) GroupByName(name string) *Group {
	for i := range t.Groups {
		if strings.EqualFold(t.Groups[i].DisplayName, name) {
			return &t.Groups[i]
		}
	}
	return nil
}

// UserByUPN returns the user with the given user principal name
// (case-insensitively), or nil.
func (t *Tenant) UserByUPN(upn string) *User {
	for i := range t.Users {
		if strings.EqualFold(t.Users[i].UserPrincipalName, upn) {
			return &t.Users[i]
		}
	}
	return nil
}

// TransitiveUsers returns the ids of the users that are members of the
// group, directly or through nested groups, each once, in the order Graph's
// transitiveMembers would list them in this server (direct members first,
// then nested groups breadth first).
func (t *Tenant) TransitiveUsers(groupID string) []string {
	var users []string
	for _, o := range t.transitive(groupID, indexOf(t)) {
		if o.kind == kindUser {
			users = append(users, o.id)
		}
	}
	return users
}

type objKind int

const (
	kindUser objKind = iota
	kindGroup
)

type objRef struct {
	kind objKind
	id   string
}

type tenantIndex struct {
	users  map[string]*User
	groups map[string]*Group
}

func indexOf(t *Tenant) tenantIndex {
	ix := tenantIndex{users: make(map[string]*User, len(t.Users)), groups: make(map[string]*Group, len(t.Groups))}
	for i := range t.Users {
		ix.users[strings.ToLower(t.Users[i].ID)] = &t.Users[i]
	}
	for i := range t.Groups {
		ix.groups[strings.ToLower(t.Groups[i].ID)] = &t.Groups[i]
	}
	return ix
}

// transitive flattens a group as transitiveMembers does: users and nested
// groups, each once, cycles broken.
func (t *Tenant) transitive(groupID string, ix tenantIndex) []objRef {
	root := ix.groups[strings.ToLower(groupID)]
	if root == nil {
		return nil
	}
	seenUser := map[string]bool{}
	seenGroup := map[string]bool{strings.ToLower(root.ID): true}
	var out []objRef
	queue := []*Group{root}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		for _, id := range g.Members {
			k := strings.ToLower(id)
			if u := ix.users[k]; u != nil && !seenUser[k] {
				seenUser[k] = true
				out = append(out, objRef{kindUser, u.ID})
			}
		}
		for _, id := range g.Groups {
			k := strings.ToLower(id)
			if n := ix.groups[k]; n != nil && !seenGroup[k] {
				seenGroup[k] = true
				out = append(out, objRef{kindGroup, n.ID})
				queue = append(queue, n)
			}
		}
	}
	return out
}

// directMembers lists a group's direct members: users, then groups.
func (t *Tenant) directMembers(groupID string, ix tenantIndex) []objRef {
	g := ix.groups[strings.ToLower(groupID)]
	if g == nil {
		return nil
	}
	var out []objRef
	for _, id := range g.Members {
		if u := ix.users[strings.ToLower(id)]; u != nil {
			out = append(out, objRef{kindUser, u.ID})
		}
	}
	for _, id := range g.Groups {
		if n := ix.groups[strings.ToLower(id)]; n != nil {
			out = append(out, objRef{kindGroup, n.ID})
		}
	}
	return out
}

// The sample tenant's fixed identifiers.
const (
	SampleTenantID = "4b1c2d3e-5f60-4718-89ab-0c1d2e3f4a5b"
	SampleDomain   = "contoso.onmicrosoft.com"
	// SampleClientID is the client id the demo configuration uses.
	SampleClientID = "11111111-1111-1111-1111-111111111111"
)

var firstNames = []string{
	"Anna", "Andrei", "Andrew", "Angela", "Antonio", "Anika", "Ben", "Carla",
	"Chen", "Daniel", "Diego", "Elena", "Emma", "Fatima", "Felix", "Grace",
	"Hannah", "Hiro", "Ines", "Isaac", "Jonas", "Julia", "Kamal", "Karin",
	"Liam", "Lucia", "Maya", "Marek", "Nadia", "Noah", "Olivia", "Pavel",
	"Priya", "Rafael", "Sara", "Sven", "Tariq", "Tomás", "Uma", "Victor",
	"Wei", "Yara", "Zoe", "Ahmed", "Beatriz", "Camille", "Dmitri", "Eva",
}

var lastNames = []string{
	"Andersen", "Bauer", "Costa", "Dubois", "Eriksson", "Fischer", "García",
	"Hoffmann", "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Martin",
	"Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka",
	"Unger", "Varga", "Wagner", "Xu", "Yilmaz", "Zhang", "Novak", "Silva",
	"Müller", "Nguyen", "O'Brien", "Patel", "Reyes", "Santos", "Horvat",
}

// guid makes a deterministic GUID-shaped id from r.
func guid(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// asciiFold turns a name into the ASCII letters a mail address uses.
func asciiFold(s string) string {
	r := strings.NewReplacer("á", "a", "à", "a", "é", "e", "í", "i", "ó", "o",
		"ú", "u", "ü", "u", "ö", "o", "ä", "a", "ñ", "n", "ç", "c", "'", "", " ", "")
	return strings.ToLower(r.Replace(s))
}

// people makes n distinct people with realistic names and addresses at
// domain, deterministically from r.
func people(r *rand.Rand, n int, domain string) []User {
	users := make([]User, 0, n)
	taken := map[string]int{}
	for len(users) < n {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		local := asciiFold(first) + "." + asciiFold(last)
		if k := taken[local]; k > 0 {
			taken[local] = k + 1
			local = fmt.Sprintf("%s%d", local, k+1)
		} else {
			taken[local] = 1
		}
		users = append(users, User{
			ID:                guid(r),
			DisplayName:       first + " " + last,
			GivenName:         first,
			Surname:           last,
			Mail:              local + "@" + domain,
			UserPrincipalName: local + "@" + domain,
			MailNickname:      local,
			AccountEnabled:    true,
			UserType:          "Member",
		})
	}
	return users
}

// SampleTenant is the demo tenant "contoso": 300 people in groups Sales
// (with a nested Sales EMEA), Marketing, Engineering (with a nested
// Platform Team, which nests SRE On-Call), Finance, Human Resources,
// Helpdesk and All Staff; among them a disabled account (Dana Whitfield, in
// Sales), a guest (Jane Doe of Fabrikam, in Marketing) and a user with no
// mail (Omar Haddad, in Engineering). It is the same on every call.
func SampleTenant() Tenant {
	r := rand.New(rand.NewPCG(2024, 5))
	const domain = "contoso.com"
	users := people(r, 297, domain)
	disabled := User{ID: guid(r), DisplayName: "Dana Whitfield", GivenName: "Dana", Surname: "Whitfield",
		Mail: "dana.whitfield@" + domain, UserPrincipalName: "dana.whitfield@" + domain,
		MailNickname: "dana.whitfield", AccountEnabled: false, UserType: "Member"}
	guest := User{ID: guid(r), DisplayName: "Jane Doe (Fabrikam)", GivenName: "Jane", Surname: "Doe",
		Mail: "jane.doe@fabrikam.com", UserPrincipalName: "jane.doe_fabrikam.com#EXT#@" + SampleDomain,
		MailNickname: "jane.doe_fabrikam.com#EXT#", AccountEnabled: true, UserType: "Guest"}
	noMail := User{ID: guid(r), DisplayName: "Omar Haddad", GivenName: "Omar", Surname: "Haddad",
		Mail: "", UserPrincipalName: "omar.haddad@" + SampleDomain,
		MailNickname: "omar.haddad", AccountEnabled: true, UserType: "Member"}
	users = append(users, disabled, guest, noMail)

	ids := func(us []User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}
	// Departments by slices of the generated people.
	sales, salesEMEA := users[0:45], users[45:65]
	marketing := users[65:100]
	engineering, platform, sre := users[100:160], users[160:178], users[178:186]
	finance, hr, helpdesk := users[186:201], users[201:211], users[211:223]
	// users[223:297] are in no department group, only All Staff.

	g := func(name, desc string, members []string) Group {
		nick := asciiFold(strings.ReplaceAll(name, "-", ""))
		return Group{ID: guid(r), DisplayName: name, Description: desc,
			Mail: nick + "@" + domain, Members: members}
	}
	sreG := g("SRE On-Call", "Site reliability on-call rota", ids(sre))
	platformG := g("Platform Team", "Infrastructure and developer platform", ids(platform))
	platformG.Groups = []string{sreG.ID}
	engG := g("Engineering", "All engineers", append(ids(engineering), noMail.ID))
	engG.Groups = []string{platformG.ID}
	emeaG := g("Sales EMEA", "Sales in Europe, the Middle East and Africa", ids(salesEMEA))
	salesG := g("Sales", "Sales worldwide", append(ids(sales), disabled.ID))
	salesG.Groups = []string{emeaG.ID}
	mktG := g("Marketing", "Marketing and communications", append(ids(marketing), guest.ID))
	finG := g("Finance", "Finance and accounting", ids(finance))
	hrG := g("Human Resources", "People team", ids(hr))
	helpG := g("Helpdesk", "First-line support", ids(helpdesk))
	allG := g("All Staff", "Everyone at Contoso", ids(users[:297]))
	allG.Members = append(allG.Members, disabled.ID, noMail.ID)

	return Tenant{
		ID:     SampleTenantID,
		Domain: SampleDomain,
		Users:  users,
		Groups: []Group{salesG, emeaG, mktG, engG, platformG, sreG, finG, hrG, helpG, allG},
	}
}

// LargeGroupName is the name of the group Generate makes.
const LargeGroupName = "All Employees"

// Generate makes a tenant of n users, all direct members of one group named
// LargeGroupName, plus a small group "Small Team" of the first ten. It is
// deterministic: the same n gives the same tenant.
func Generate(n int) Tenant {
	r := rand.New(rand.NewPCG(uint64(n), 10))
	users := people(r, n, "fabrikam.com")
	all := Group{ID: guid(r), DisplayName: LargeGroupName, Description: "Everyone",
		Mail: "all@fabrikam.com", Members: make([]string, n)}
	for i, u := range users {
		all.Members[i] = u.ID
	}
	small := Group{ID: guid(r), DisplayName: "Small Team", Members: append([]string(nil), all.Members[:min(10, n)]...)}
	return Tenant{ID: SampleTenantID, Domain: "fabrikam.onmicrosoft.com", Users: users, Groups: []Group{all, small}}
}

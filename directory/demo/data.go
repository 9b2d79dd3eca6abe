package demo

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"strings"
)

// The sample directory's fixed names.
const (
	// Suffix is the sample directory's naming context.
	Suffix = "dc=corp,dc=example"
	// PeopleDN holds the sample people (and, one level down, contractors).
	PeopleDN = "ou=People," + Suffix
	// GroupsDN holds the sample groups.
	GroupsDN = "ou=Groups," + Suffix
	// SampleBindDN is the service account usersync binds as.
	SampleBindDN = "cn=svc-usersync,ou=Service," + Suffix
	// SampleBindPassword is the service account's password. It guards a
	// loopback demo of made-up people, nothing else.
	SampleBindPassword = "demo-only-not-a-secret"
	// MailDomain is the domain of the sample people's addresses.
	MailDomain = "corp.example"
	// RetailDN holds the store staff, the members of GroupRetail.
	RetailDN = "ou=Stores," + PeopleDN
	// RetailMembers is how many people GroupRetail has, the two with bad
	// usernames among them.
	RetailMembers = 3000
)

// RetailBadUsernames are the usernames of two members of GroupRetail that
// the store refuses (they fail the PRECIS UsernameCaseMapped profile), so
// that importing the group shows failed entries with their reasons: one
// typed with a space, and one pasted with a zero-width space at its end,
// which looks like any other username on screen.
var RetailBadUsernames = []string{"li wei", "mei.chen\u200b"}

// Names in the sample data that the demo's story relies on: searching an*
// on dc01 shows each of them.
const (
	// GroupAnalysis is the group Seed imports earlier (Select to synchronize).
	GroupAnalysis = "Analysis"
	// GroupEngineering holds the nested group GroupPlatform besides people.
	GroupEngineering = "Engineering"
	// GroupPlatform is a member of GroupEngineering.
	GroupPlatform = "Platform"
	// GroupAllStaff has every office person as a member (over a hundred:
	// the adapter reads it through memberOf); the store staff of
	// GroupRetail are not in it.
	GroupAllStaff = "All Staff"
	// GroupRetail is the staff of the shops: RetailMembers people under
	// RetailDN, so that importing it takes long enough to watch its
	// progress (with the server's Options.Latency), and two of whose
	// usernames the store refuses (RetailBadUsernames).
	GroupRetail = "Retail"
	// UserImported (Andrew Armstrong) is a member of GroupAnalysis, so Seed
	// imported him: Select to synchronize.
	UserImported = "andarm"
	// UserNew (Andrea Baldwin) was never imported: Select to import.
	UserNew = "andbal"
	// UserBlocked (Adrian Andrei) collides with the internal user
	// InternalBlocker: Username already exists as an internal user.
	UserBlocked = "AAndrei"
	// UserDisabled (Angela Novak) is disabled in the directory
	// (pwdAccountLockedTime 000001010000Z, OpenLDAP's administrative lock).
	UserDisabled = "angnov"
	// InternalBlocker is the internal user Seed makes whose name folds to
	// UserBlocked's.
	InternalBlocker = "aandrei"
)

// lockedForever is the pwdAccountLockedTime value of an administrative
// lock in OpenLDAP's ppolicy overlay: the account stays locked until an
// administrator unlocks it.
const lockedForever = "000001010000Z"

// Attribute is one attribute of an entry, with its values.
type Attribute struct {
	Name   string
	Values []string
}

// Entry is one directory entry: its DN as written and its attributes in
// the order they are sent. memberOf is not stored: the server derives it
// from the groups' member values, as OpenLDAP's memberof overlay does.
type Entry struct {
	DN         string
	Attributes []Attribute
}

// Get returns the values of the named attribute (case-insensitive), or nil.
func (e Entry) Get(name string) []string {
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a.Values
		}
	}
	return nil
}

// Data is what an LDAPServer serves: entries under one suffix, and the one
// account that may bind.
type Data struct {
	// Suffix is the naming context; every entry is at or under it.
	Suffix string
	// BindDN and BindPassword are the account simple binds are checked
	// against.
	BindDN       string
	BindPassword string
	// Entries are the entries, parents before children.
	Entries []Entry
}

// person is one sample person before it becomes an entry.
type person struct {
	uid, given, sn, title, dept string
	mail                        string
	contractor, disabled        bool
	retail                      bool // store staff, under RetailDN
}

// The sample names. No first or last name starts with "an": searching an*
// must show only the handful of people the demo's story needs.
var (
	firstNames = []string{
		"James", "Mary", "Olivia", "Liam", "Noah", "Emma", "Sofia", "Mateo",
		"Chloé", "Yusuf", "Aisha", "Priya", "Rahul", "Mei", "Wei", "Hiroshi",
		"Yuki", "Sven", "Ingrid", "Łukasz", "Zofia", "José", "Lucía", "Fatima",
		"Omar", "Kwame", "Ama", "Chinedu", "Ngozi", "Dmitri", "Olga", "Giulia",
		"Marco", "Niamh", "Seán", "Isla", "Oliver", "Charlotte", "Ethan", "Harper",
		"Lucas", "Mila", "Leon", "Hannah", "Felix", "Ella", "Tomás", "Beatriz",
		"Kenji", "Sakura", "Arjun", "Diya", "Tariq", "Leila", "Sipho", "Thandi",
		"Elif", "Emre", "Nikolai", "Astrid", "Raúl", "Camila", "Jonas", "Freya",
	}
	lastNames = []string{
		"Smith", "Johnson", "Garcia", "Müller", "Kowalski", "Nguyen", "Chen", "Wang",
		"Tanaka", "Sato", "Okafor", "Mensah", "Haddad", "Khan", "Patel", "Sharma",
		"Ivanov", "Rossi", "Bianchi", "Dubois", "Martin", "Lefèvre", "Jensen", "Nielsen",
		"Larsen", "Eriksson", "Lindqvist", "Horvat", "Kovács", "Nagy", "Silva", "Santos",
		"Pereira", "Fernández", "López", "O'Brien", "Murphy", "Kelly", "Walsh", "Schmidt",
		"Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Yilmaz", "Demir", "Kaya",
		"Cohen", "Levi", "Mizrahi", "Ali", "Hassan", "Ibrahim", "Dlamini", "Ndlovu",
		"Mokoena", "Park", "Kim", "Lee", "Choi", "Reyes", "Cruz", "Baker",
	}
	// departments, by how many people each gets out of 20.
	deptPattern = []string{
		"Engineering", "Engineering", "Sales", "Engineering", "Customer Support",
		"Sales", "Engineering", "Marketing", "Operations", "Engineering",
		"Finance", "Sales", "Customer Support", "IT", "Human Resources",
		"Engineering", "Research", "Legal", "Operations", "IT",
	}
	titles = map[string][]string{
		"Engineering":      {"Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager", "QA Engineer"},
		"Sales":            {"Account Executive", "Sales Development Representative", "Regional Sales Manager"},
		"Customer Support": {"Support Specialist", "Senior Support Specialist", "Support Team Lead"},
		"Marketing":        {"Marketing Manager", "Content Strategist", "Product Marketing Manager"},
		"Operations":       {"Operations Analyst", "Facilities Coordinator", "Operations Manager"},
		"Finance":          {"Accountant", "Financial Analyst", "Controller"},
		"IT":               {"Systems Administrator", "Network Engineer", "IT Support Technician"},
		"Human Resources":  {"HR Business Partner", "Recruiter", "Payroll Specialist"},
		"Research":         {"Research Scientist", "Data Scientist", "Research Engineer"},
		"Legal":            {"Counsel", "Paralegal", "Compliance Officer"},
	}
	departments = []string{
		"Engineering", "Sales", "Marketing", "Finance", "Human Resources",
		"Customer Support", "Legal", "Operations", "IT", "Research",
	}
	// retailTitles, by how many of the store staff get each out of 20.
	retailTitles = []string{
		"Sales Associate", "Cashier", "Sales Associate", "Stock Associate", "Sales Associate",
		"Cashier", "Customer Service Associate", "Sales Associate", "Stock Associate", "Cashier",
		"Sales Associate", "Visual Merchandiser", "Sales Associate", "Cashier", "Stock Associate",
		"Department Supervisor", "Sales Associate", "Cashier", "Assistant Store Manager", "Store Manager",
	}
)

// generatedPeople is how many office people SampleData makes from the name
// lists, besides the few the demo's story names.
const generatedPeople = 300

// retailBad are the two store staff whose usernames the store refuses, and
// where they stand among the others, made from the name lists.
var retailBad = []struct {
	at int
	p  person
}{
	{1234, person{uid: RetailBadUsernames[0], given: "Li", sn: "Wei", mail: "li.wei@" + MailDomain}},
	{2345, person{uid: RetailBadUsernames[1], given: "Mei", sn: "Chen", mail: "mei.chen@" + MailDomain}},
}

// story are the people the demo's an* search is about.
var story = []person{
	{uid: UserImported, given: "Andrew", sn: "Armstrong", title: "Data Scientist", dept: "Research"},
	{uid: "anisha", given: "Anika", sn: "Sharma", title: "Research Scientist", dept: "Research"},
	{uid: UserNew, given: "Andrea", sn: "Baldwin", title: "Account Executive", dept: "Sales"},
	{uid: UserBlocked, given: "Adrian", sn: "Andrei", title: "Financial Analyst", dept: "Finance", mail: "aandrei@" + MailDomain},
	{uid: UserDisabled, given: "Angela", sn: "Novak", title: "Content Strategist", dept: "Marketing", disabled: true},
	{uid: "antrui", given: "Antonio", sn: "Ruiz", title: "Support Team Lead", dept: "Customer Support"},
	{uid: "kevand", given: "Kevin", sn: "Anderson", title: "Network Engineer", dept: "IT"},
}

// analysisMembers are the generated people (by index) in Analysis besides
// andarm and anisha.
var analysisMembers = []int{12, 57, 141, 233}

// SampleData is the demo directory dc01: a few hundred office people with
// varied names (a dozen of them contractors, one level further down),
// RetailMembers store staff (under RetailDN), twenty-one groups —
// departments, projects, a nested group (Platform in Engineering), one
// with every office person and GroupRetail with the store staff — and the
// service account. It is the same on every call: no randomness, and
// entryUUIDs derived from names.
func SampleData() *Data {
	people := samplePeople()
	d := &Data{Suffix: Suffix, BindDN: SampleBindDN, BindPassword: SampleBindPassword}
	add := func(dn string, attrs ...Attribute) { d.Entries = append(d.Entries, Entry{DN: dn, Attributes: attrs}) }
	add(Suffix,
		Attribute{"objectClass", []string{"top", "dcObject", "organization"}},
		Attribute{"dc", []string{"corp"}},
		Attribute{"o", []string{"Corp Example"}},
		Attribute{"entryUUID", []string{nameUUID("suffix", Suffix)}},
	)
	for _, ou := range []struct{ dn, name, desc string }{
		{PeopleDN, "People", "Employees"},
		{"ou=Contractors," + PeopleDN, "Contractors", "Contractors and temporary staff"},
		{RetailDN, "Stores", "Store staff"},
		{GroupsDN, "Groups", "Departments and project teams"},
		{"ou=Service," + Suffix, "Service", "Service accounts"},
	} {
		add(ou.dn,
			Attribute{"objectClass", []string{"top", "organizationalUnit"}},
			Attribute{"ou", []string{ou.name}},
			Attribute{"description", []string{ou.desc}},
			Attribute{"entryUUID", []string{nameUUID("ou", ou.dn)}},
		)
	}
	add(SampleBindDN,
		Attribute{"objectClass", []string{"top", "applicationProcess", "simpleSecurityObject"}},
		Attribute{"cn", []string{"svc-usersync"}},
		Attribute{"description", []string{"usersync reads users and groups with this account"}},
		Attribute{"entryUUID", []string{nameUUID("service", "svc-usersync")}},
	)
	for i, p := range people {
		attrs := []Attribute{
			{"objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"}},
			{"uid", []string{p.uid}},
			{"cn", []string{p.given + " " + p.sn}},
			{"givenName", []string{p.given}},
			{"sn", []string{p.sn}},
			{"displayName", []string{p.given + " " + p.sn}},
			{"mail", []string{p.mail}},
			{"title", []string{p.title}},
			{"departmentNumber", []string{p.dept}},
			{"employeeNumber", []string{strconv.Itoa(1001 + i)}},
			{"entryUUID", []string{nameUUID("person", p.uid)}},
		}
		if p.disabled {
			attrs = append(attrs, Attribute{"pwdAccountLockedTime", []string{lockedForever}})
		}
		add(personDN(p), attrs...)
	}
	for _, g := range sampleGroups(people) {
		add("cn="+g.name+","+GroupsDN,
			Attribute{"objectClass", []string{"top", "groupOfNames"}},
			Attribute{"cn", []string{g.name}},
			Attribute{"description", []string{g.desc}},
			Attribute{"member", g.members},
			Attribute{"entryUUID", []string{nameUUID("group", g.name)}},
		)
	}
	return d
}

func personDN(p person) string {
	if p.retail {
		return "uid=" + p.uid + "," + RetailDN
	}
	if p.contractor {
		return "uid=" + p.uid + ",ou=Contractors," + PeopleDN
	}
	return "uid=" + p.uid + "," + PeopleDN
}

// samplePeople makes the story's people, then generatedPeople office
// people and the store staff from the name lists: person i is
// firstNames[i%64] with lastNames[(7*(i%64)+i/64)%64], so that no two of
// the first 4096 share a full name; a username taken already gets a
// number (jamsmi2).
func samplePeople() []person {
	people := append([]person(nil), story...)
	for i := range people {
		if people[i].mail == "" {
			people[i].mail = people[i].uid + "@" + MailDomain
		}
	}
	taken := map[string]bool{}
	for _, p := range people {
		taken[strings.ToLower(p.uid)] = true
	}
	nf, nl := len(firstNames), len(lastNames)
	for i := range generatedPeople {
		given := firstNames[i%nf]
		sn := lastNames[(i*7+i/nf)%nl]
		uid := uniqueUID(ascii(given, 3)+ascii(sn, 3), taken)
		dept := deptPattern[i%len(deptPattern)]
		ts := titles[dept]
		people = append(people, person{
			uid: uid, given: given, sn: sn, dept: dept,
			title:      ts[(i/len(deptPattern))%len(ts)],
			mail:       uid + "@" + MailDomain,
			contractor: i%25 == 24,
		})
	}
	for _, b := range retailBad {
		taken[strings.ToLower(b.p.uid)] = true
	}
	bad := 0
	for j := range RetailMembers {
		if bad < len(retailBad) && retailBad[bad].at == j {
			p := retailBad[bad].p
			p.retail, p.dept, p.title = true, "Retail", retailTitles[j%len(retailTitles)]
			people = append(people, p)
			bad++
			continue
		}
		i := generatedPeople + j
		given, sn := firstNames[i%nf], lastNames[(i*7+i/nf)%nl]
		uid := uniqueUID(ascii(given, 3)+ascii(sn, 3), taken)
		people = append(people, person{
			uid: uid, given: given, sn: sn, dept: "Retail",
			title:  retailTitles[j%len(retailTitles)],
			mail:   uid + "@" + MailDomain,
			retail: true,
		})
	}
	return people
}

// uniqueUID is base, or base with the first number from 2 that makes it
// a username not yet taken; it takes it.
func uniqueUID(base string, taken map[string]bool) string {
	uid := base
	for n := 2; taken[uid]; n++ {
		uid = base + strconv.Itoa(n)
	}
	taken[uid] = true
	return uid
}

// ascii is the first n letters of name, lower case, without accents or
// apostrophes: how usernames are made from names.
func ascii(name string, n int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if b.Len() >= n {
			break
		}
		if t, ok := translit[r]; ok {
			b.WriteString(t)
			continue
		}
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var translit = map[rune]string{
	'á': "a", 'à': "a", 'ä': "a", 'å': "a", 'ã': "a", 'é': "e", 'è': "e", 'ë': "e", 'ê': "e",
	'í': "i", 'ï': "i", 'ó': "o", 'ö': "o", 'ø': "o", 'ô': "o", 'ú': "u", 'ü': "u", 'ł': "l",
	'ñ': "n", 'ç': "c", 'ß': "ss",
}

// group is one sample group before it becomes an entry.
type group struct {
	name, desc string
	members    []string // DNs
}

// sampleGroups makes the departments (Engineering's people split between
// Engineering itself and Platform, which is a member of Engineering), the
// project teams, All Staff (the office people) and Retail (the store
// staff).
func sampleGroups(people []person) []group {
	byDept := map[string][]string{}
	var platform, everyone, retail []string
	engineers := 0
	for _, p := range people {
		dn := personDN(p)
		if p.retail {
			retail = append(retail, dn)
			continue
		}
		everyone = append(everyone, dn)
		if p.dept == "Engineering" && !storyPerson(p.uid) {
			engineers++
			if engineers%3 == 0 {
				platform = append(platform, dn)
				continue
			}
		}
		byDept[p.dept] = append(byDept[p.dept], dn)
	}
	var gs []group
	for _, d := range departments {
		members := byDept[d]
		if d == GroupEngineering {
			members = append(members, "cn="+GroupPlatform+","+GroupsDN)
		}
		gs = append(gs, group{name: d, desc: "Department: " + d, members: members})
	}
	gs = append(gs, group{name: GroupPlatform, desc: "Platform engineering team (part of Engineering)", members: platform})

	gen := people[len(story) : len(story)+generatedPeople]
	pick := func(keep func(i int, p person) bool) []string {
		var out []string
		for i, p := range gen {
			if keep(i, p) {
				out = append(out, personDN(p))
			}
		}
		return out
	}
	analysis := []string{personDN(people[0]), personDN(people[1])}
	for _, i := range analysisMembers {
		analysis = append(analysis, personDN(gen[i]))
	}
	gs = append(gs,
		group{name: GroupAnalysis, desc: "Analysis project team", members: analysis},
		group{name: "Project Orion", desc: "Project Orion: the new billing platform", members: pick(func(i int, _ person) bool { return i%17 == 3 })},
		group{name: "Project Atlas", desc: "Project Atlas: the mapping service", members: pick(func(i int, _ person) bool { return i%19 == 5 })},
		group{name: "Data Governance", desc: "Data governance board", members: pick(func(i int, p person) bool { return i%23 == 7 || (p.dept == "Legal" && i%2 == 0) })},
		group{name: "Security Champions", desc: "Security champions from every team", members: pick(func(i int, _ person) bool { return i%29 == 11 })},
		group{name: "On-Call", desc: "Engineers and admins on the on-call rota", members: pick(func(i int, p person) bool { return (p.dept == "Engineering" || p.dept == "IT") && i%4 == 1 })},
		group{name: "Release Managers", desc: "People who may ship a release", members: pick(func(i int, p person) bool { return p.dept == "Engineering" && i%31 == 0 })},
		group{name: "VPN Users", desc: "People allowed on the VPN", members: pick(func(i int, _ person) bool { return i%2 == 0 })},
		group{name: GroupAllStaff, desc: "Everyone in the offices", members: everyone},
		group{name: GroupRetail, desc: "Staff of the shops", members: retail},
	)
	return gs
}

func storyPerson(uid string) bool {
	for _, p := range story {
		if p.uid == uid {
			return true
		}
	}
	return false
}

// nameUUID is a name-based (version 5 style, SHA-1) UUID: the same name
// always gives the same entryUUID, so a store seeded in one run matches the
// directory of the next.
func nameUUID(kind, name string) string {
	h := sha1.Sum([]byte("usersync-demo/" + kind + "/" + strings.ToLower(name)))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

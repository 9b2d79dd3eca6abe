package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// dc01 is a real slapd with the product page's example: searching "an*"
// finds the group Analysis, andarm and andbal, and an LDAP aandrei that
// collides with an internal user.
type dc01 struct {
	srv      *slapdtest.Server
	analysis string // the group's DN
}

func startDC01(t *testing.T) *dc01 {
	t.Helper()
	slapdtest.Require(t)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	andarm := data.AddUser(slapdtest.User{UID: "andarm", CN: "Andrea Armstrong", GivenName: "Andrea", Mail: "andarm@example.com"})
	andbal := data.AddUser(slapdtest.User{UID: "andbal", CN: "Andrew Baldwin", GivenName: "Andrew", Mail: "andbal@example.com"})
	data.AddUser(slapdtest.User{UID: "AAndrei", CN: "Andrei Aandrei", GivenName: "Andrei", Mail: "andrei@ldap.example.com"})
	nomail := data.AddUser(slapdtest.User{UID: "bnomail", CN: "Bea Nomail"})
	analysis := data.AddGroup(slapdtest.Group{CN: "Analysis", Members: []string{andarm, nomail}})
	_ = andbal
	srv := slapdtest.Start(t, slapdtest.Options{Data: data})
	return &dc01{srv: srv, analysis: analysis}
}

// configure writes a config naming the server dc01, with the password in
// an environment variable.
func (d *dc01) configure(e *env) {
	e.useLDAP(d.srv, ldapSection("dc01", d.srv.URL, d.srv, `timeout = "5s"`))
}

func runOf(t *testing.T, r result) runJSON {
	t.Helper()
	var run runJSON
	if err := json.Unmarshal([]byte(r.stdout), &run); err != nil {
		t.Fatalf("stdout is not a run: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return run
}

func entryOf(run runJSON, name string) (runEntryJSON, bool) {
	for _, e := range run.Entries {
		if strings.EqualFold(e.Name, name) {
			return e, true
		}
	}
	return runEntryJSON{}, false
}

func usersByName(t *testing.T, e *env) map[string]userJSON {
	t.Helper()
	var users []userJSON
	e.jsonOf(&users, "users", "list", "--json")
	out := map[string]userJSON{}
	for _, u := range users {
		out[u.Username] = u
	}
	return out
}

func TestImportLDAP_PlanChangesNothingThenYesApplies(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	e.ok("users", "add", "aandrei", "--name", "Andrei (internal)")

	plan := runOf(t, e.ok("import", "ldap", "--server", "dc01", "--query", "an*", "--json"))
	if plan.Status != "planned" {
		t.Fatalf("without --yes: status %q, want planned", plan.Status)
	}
	if got := usersByName(t, e); len(got) != 1 {
		t.Fatalf("a plan changed the store: users %v", got)
	}
	if plan.Counts.Created == 0 {
		t.Fatalf("plan creates nothing: %+v", plan)
	}

	r := e.run("import", "ldap", "--server", "dc01", "--query", "an*", "--select", "all", "--roles", "Viewer", "--enable", "--yes", "--json")
	if r.code != 0 {
		t.Fatalf("import --yes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	run := runOf(t, r)
	if run.Status != "completed" || run.ID == 0 || run.Finished == nil {
		t.Fatalf("import --yes: %+v", run)
	}
	users := usersByName(t, e)
	for _, name := range []string{"andarm", "andbal", "bnomail"} {
		u, ok := users[name]
		if !ok {
			t.Fatalf("%s was not imported; users: %v", name, users)
		}
		if u.Kind != "external" || u.Source != "dc01" || u.ExternalID == "" || !u.Enabled {
			t.Errorf("%s imported as %+v", name, u)
		}
	}
	if !hasRole(users["andbal"], "Viewer", "global") {
		t.Errorf("selected user andbal did not get Viewer: %v", users["andbal"].Roles)
	}
	// The internal aandrei is untouched and reported as blocked.
	if u := users["aandrei"]; u.Kind != "internal" || u.DisplayName != "Andrei (internal)" {
		t.Errorf("internal aandrei was changed: %+v", u)
	}
	if ent, ok := entryOf(run, "AAndrei"); !ok || ent.Action != "skipped" || ent.Reason != "Username already exists as an internal user" {
		t.Errorf("AAndrei's entry = %+v (found %v), want skipped as an internal user", ent, ok)
	}
	var g groupJSON
	e.jsonOf(&g, "groups", "show", "Analysis", "--json")
	if g.Kind != "external" || len(g.Members) != 2 {
		t.Errorf("group Analysis = %+v, want external with andarm and bnomail", g)
	}

	// The same run is what 'runs show' prints.
	var shown runJSON
	e.jsonOf(&shown, "runs", "show", fmt.Sprint(run.ID), "--json")
	if shown.ID != run.ID || shown.Counts != run.Counts || len(shown.Entries) != len(run.Entries) {
		t.Errorf("runs show %d = %+v, want %+v", run.ID, shown.Counts, run.Counts)
	}
}

func hasRole(u userJSON, role, scope string) bool {
	for _, a := range u.Roles {
		if a.Role == role && a.Scope == scope {
			return true
		}
	}
	return false
}

func TestImportLDAP_ReimportKeepsRoleAssignments(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	e.ok("import", "ldap", "--server", "dc01", "--query", "andarm", "--roles", "Viewer", "--enable", "--yes")
	e.ok("roles", "assign", "andarm", "Editor@project-x")

	run := runOf(t, e.ok("import", "ldap", "--server", "dc01", "--query", "andarm", "--roles", "Administrator", "--yes", "--json"))
	if run.Counts.Created != 0 || run.Counts.Unchanged+run.Counts.Updated != 1 {
		t.Fatalf("re-import counts = %+v, want the one user unchanged or updated", run.Counts)
	}
	u := usersByName(t, e)["andarm"]
	if len(u.Roles) != 2 || !hasRole(u, "Viewer", "global") || !hasRole(u, "Editor", "project-x") {
		t.Errorf("re-import changed andarm's roles: %v", u.Roles)
	}
}

func TestImportLDAP_SelectNamesAndUnknownName(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	run := runOf(t, e.ok("import", "ldap", "--server", "dc01", "--query", "an*", "--select", "andbal", "--yes", "--json"))
	if run.Counts.Created != 1 {
		t.Fatalf("--select andbal created %d, want 1 (%+v)", run.Counts.Created, run.Entries)
	}
	u := usersByName(t, e)["andbal"]
	if u.Enabled {
		t.Error("imported without --enable, andbal is enabled; want created disabled")
	}
	r := e.run("import", "ldap", "--server", "dc01", "--query", "an*", "--select", "nobody")
	if r.code != exitUsage || !strings.Contains(r.stderr, "nobody") {
		t.Errorf("--select nobody: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestImportLDAP_BadFilterAndDownServerAreClearErrors(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	r := e.run("import", "ldap", "--server", "dc01", "--query", "(uid=an")
	if r.code != exitFailure || !strings.Contains(r.stderr, "filter") {
		t.Errorf("bad raw filter: exit %d stderr %q", r.code, r.stderr)
	}
	r = e.run("import", "ldap", "--server", "dc02", "--query", "an*")
	if r.code != exitUsage || !strings.Contains(r.stderr, "dc01") {
		t.Errorf("unknown server: exit %d stderr %q (should list dc01)", r.code, r.stderr)
	}
	d.srv.Stop()
	r = e.run("import", "ldap", "--server", "dc01", "--query", "an*")
	if r.code != exitFailure || r.stderr == "" {
		t.Errorf("server down: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestSync_RemovesDepartedMemberAndKeepsRoles(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Analysis", "--enable", "--yes")
	e.ok("roles", "assign", "andarm", "Editor")

	// bnomail leaves the group in the directory.
	conn := d.srv.Conn(t)
	mod := goldap.NewModifyRequest(d.analysis, nil)
	mod.Delete("member", []string{"uid=bnomail,ou=people," + slapdtest.DefaultSuffix})
	if err := conn.Modify(mod); err != nil {
		t.Fatal(err)
	}
	// 1 of 2 members is over the 10% threshold: the plan says the group
	// would be left as it is, and so does the apply without --force.
	r := e.run("sync", "Analysis", "--json")
	plan := runOf(t, r)
	if r.code != exitEntryError || plan.Status != "planned" || plan.Counts.Removed != 0 || plan.Counts.Failed != 1 || !strings.Contains(plan.Error, "--force") {
		t.Fatalf("sync plan = exit %d %+v, want the group refused by the threshold", r.code, plan)
	}
	if r := e.run("sync", "Analysis", "--yes"); r.code != exitEntryError || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("sync over the threshold without --force: exit %d stderr %q", r.code, r.stderr)
	}
	var before groupJSON
	e.jsonOf(&before, "groups", "show", "Analysis", "--json")
	if len(before.Members) != 2 {
		t.Fatalf("the refused sync removed a member: %v", before.Members)
	}
	run := runOf(t, e.ok("sync", "Analysis", "--yes", "--force", "--json"))
	if run.Status != "completed" || run.Counts.Removed != 1 {
		t.Fatalf("sync --yes --force = %+v", run)
	}
	var g groupJSON
	e.jsonOf(&g, "groups", "show", "Analysis", "--json")
	if len(g.Members) != 1 || g.Members[0] != "andarm" {
		t.Errorf("after sync Analysis members = %v, want [andarm]", g.Members)
	}
	if u := usersByName(t, e)["andarm"]; !hasRole(u, "Editor", "global") {
		t.Errorf("sync changed andarm's roles: %v", u.Roles)
	}
}

func TestSync_ServerDownFailsAndRemovesNothing(t *testing.T) {
	d := startDC01(t)
	e := newEnv(t)
	d.configure(e)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Analysis", "--enable", "--yes")
	d.srv.Kill()

	r := e.run("sync", "--all", "--yes", "--json")
	if r.code != exitFailure {
		t.Fatalf("sync with the server down: exit %d, want 1\n%s", r.code, r.stderr)
	}
	var g groupJSON
	e.jsonOf(&g, "groups", "show", "Analysis", "--json")
	if len(g.Members) != 2 {
		t.Errorf("a failed sync removed members: %v", g.Members)
	}
	for name, u := range usersByName(t, e) {
		if !u.Enabled {
			t.Errorf("a failed sync disabled %s", name)
		}
	}
	var runs []runJSON
	e.jsonOf(&runs, "runs", "list", "--json")
	if len(runs) == 0 || runs[0].Status != "failed" {
		t.Errorf("the failed sync is not journaled as failed: %+v", runs)
	}
}

// runJSON is the contract's run object, decoded as a script would.
type runJSON struct {
	ID       uint64     `json:"id"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished"`
	Actor    string     `json:"actor"`
	Source   string     `json:"source"`
	Command  string     `json:"command"`
	Status   string     `json:"status"`
	Mode     string     `json:"mode"`
	Note     string     `json:"note"`
	Error    string     `json:"error"`
	Counts   struct {
		Created   int `json:"created"`
		Updated   int `json:"updated"`
		Unchanged int `json:"unchanged"`
		Skipped   int `json:"skipped"`
		Failed    int `json:"failed"`
		Removed   int `json:"removed"`
		Disabled  int `json:"disabled"`
	} `json:"counts"`
	Entries []runEntryJSON `json:"entries"`
}

type runEntryJSON struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

// contoso is the sample tenant served over HTTPS by graphtest, signed in to
// with a client secret (the unattended, cron-style sign-in).
type contoso struct {
	srv *graphtest.Server
}

const contosoSecret = "s3cret-for-tests"

func startContoso(t *testing.T) *contoso {
	t.Helper()
	srv, err := graphtest.Start(graphtest.SampleTenant(), graphtest.Options{ClientSecret: contosoSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &contoso{srv: srv}
}

func (c *contoso) configure(e *env) {
	e.writeConfig(fmt.Sprintf(`[[entra]]
name = "contoso"
tenant_id = %q
client_id = "11111111-1111-1111-1111-111111111111"
auth = "client-secret"
client_secret_env = "CONTOSO_SECRET"
authority_host = %q
graph_endpoint = %q
ca_file = %q
`, c.srv.TenantID(), c.srv.AuthorityHost(), c.srv.GraphEndpoint(), c.srv.CAFile()))
	e.extra = append(e.extra, "CONTOSO_SECRET="+contosoSecret)
}

// member is a member of the named group in the sample tenant.
func (c *contoso) member(t *testing.T, group string, i int) graphtest.User {
	t.Helper()
	tn := c.srv.Tenant()
	g := tn.GroupByName(group)
	if g == nil {
		t.Fatalf("no group %q in the sample tenant", group)
	}
	return *tn.User(g.Members[i])
}

func TestImportEntra_PlanThenApplyWithEmailMatching(t *testing.T) {
	c := startContoso(t)
	e := newEnv(t)
	c.configure(e)
	first := c.member(t, "Sales", 0)
	e.ok("users", "add", "jdoe-internal", "--email", strings.ToUpper(first.Mail), "--name", "Internal Person")

	// Without --yes: a plan; the internal user with the same email is left
	// alone, since --update-existing was not given.
	plan := runOf(t, e.ok("import", "entra", "--tenant", "contoso", "--group", "Sales", "--add-new", "--json"))
	if plan.Status != "planned" || plan.Counts.Created == 0 {
		t.Fatalf("plan = %+v", plan)
	}
	if got := usersByName(t, e); len(got) != 1 {
		t.Fatalf("a plan changed the store: %d users", len(got))
	}
	if ent, ok := entryOf(plan, entra.Username(first.UserPrincipalName)); !ok || ent.Action != "skipped" || !strings.Contains(ent.Reason, "updating not selected") {
		t.Errorf("the email match without --update-existing: %+v (found %v)", ent, ok)
	}

	run := runOf(t, e.ok("import", "entra", "--tenant", "contoso", "--group", "Sales", "--add-new", "--update-existing", "--roles", "Viewer", "--yes", "--json"))
	if run.Status != "completed" || run.Source != "contoso" || run.Counts.Failed != 0 {
		t.Fatalf("import --yes = %+v", run)
	}
	users := usersByName(t, e)
	linked := users["jdoe-internal"]
	if linked.Kind != "external" || linked.Source != "contoso" || linked.ExternalID != first.ID {
		t.Errorf("the internal user with %s was not linked by email: %+v", first.Mail, linked)
	}
	// Nested: Sales EMEA's members are Sales members too.
	emea := c.member(t, "Sales EMEA", 0)
	if u, ok := users[entra.Username(emea.UserPrincipalName)]; !ok || u.Kind != "external" {
		t.Errorf("nested member %s of Sales EMEA not imported: %+v", emea.UserPrincipalName, u)
	}
	// Dana Whitfield is disabled in Entra: imported disabled.
	if u, ok := users["dana.whitfield"]; !ok || u.Enabled {
		t.Errorf("the disabled account: %+v (found %v)", u, ok)
	}
	var g groupJSON
	e.jsonOf(&g, "groups", "show", "Sales", "--json")
	if g.Kind != "external" || g.Source != "contoso" || len(g.Members) != 66 {
		t.Errorf("group Sales = kind %s source %s, %d members; want external from contoso with 66", g.Kind, g.Source, len(g.Members))
	}

	// The same import again changes nothing.
	again := runOf(t, e.ok("import", "entra", "--tenant", "contoso", "--group", g.ExternalID, "--add-new", "--update-existing", "--yes", "--json"))
	if again.Counts.Created != 0 || again.Counts.Updated != 0 {
		t.Errorf("re-import by object id: %+v", again.Counts)
	}
}

func TestImportEntra_ThrottlingIsWaitedOut(t *testing.T) {
	c := startContoso(t)
	e := newEnv(t)
	c.configure(e)
	c.srv.AddFault(graphtest.Fault{Path: "/groups/", Match: func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/transitiveMembers")
	}, Times: 1, Status: 429, RetryAfter: "1"})
	r := e.run("import", "entra", "--tenant", "contoso", "--group", "Finance", "--add-new", "--yes", "--json")
	if r.code != 0 {
		t.Fatalf("throttled once: exit %d\n%s", r.code, r.stderr)
	}
	if run := runOf(t, r); run.Counts.Created != 16 {
		t.Errorf("after throttling: %+v, want Finance and its 15 members created", run.Counts)
	}
	if c.srv.Faulted() != 1 {
		t.Errorf("the fault was served %d times, want 1", c.srv.Faulted())
	}
}

func TestImportEntra_ErrorsSayWhatToDo(t *testing.T) {
	c := startContoso(t)
	e := newEnv(t)
	c.configure(e)

	r := e.run("import", "entra", "--tenant", "contoso")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--group") {
		t.Errorf("no --group: exit %d stderr %q", r.code, r.stderr)
	}
	r = e.run("import", "entra", "--tenant", "fabrikam", "--group", "Sales")
	if r.code != exitUsage || !strings.Contains(r.stderr, "contoso") {
		t.Errorf("unknown tenant: exit %d stderr %q", r.code, r.stderr)
	}
	r = e.run("import", "entra", "--tenant", "contoso", "--group", "No Such Group")
	if r.code != exitFailure || !strings.Contains(r.stderr, "No Such Group") {
		t.Errorf("unknown group: exit %d stderr %q", r.code, r.stderr)
	}

	// A revoked permission names the permission and the consent address.
	c.srv.Revoke(graphtest.PermGroupMemberReadAll)
	r = e.run("import", "entra", "--tenant", "contoso", "--group", "Sales", "--yes")
	if r.code != exitFailure || !strings.Contains(r.stderr, "GroupMember.Read.All") || !strings.Contains(r.stderr, "adminconsent") {
		t.Errorf("revoked GroupMember.Read.All: exit %d stderr %q", r.code, r.stderr)
	}
	c.srv.Grant(graphtest.PermGroupMemberReadAll)

	// A read that fails is journaled as a failed run, and nothing changes.
	c.srv.AddFault(graphtest.Fault{Path: "/groups/", Match: func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/transitiveMembers")
	}, Status: 500})
	r = e.run("import", "entra", "--tenant", "contoso", "--group", "Sales", "--yes", "--json")
	if r.code != exitFailure {
		t.Fatalf("failed read: exit %d\n%s", r.code, r.stderr)
	}
	if run := runOf(t, r); run.Status != "failed" || run.Counts.Created != 0 {
		t.Errorf("failed read journaled as %+v", run)
	}
	if got := usersByName(t, e); len(got) != 0 {
		t.Errorf("a failed read changed the store: %v", got)
	}
}

func TestSync_EntraGroupMatchesNewMembersByEmail(t *testing.T) {
	c := startContoso(t)
	e := newEnv(t)
	c.configure(e)
	e.ok("import", "entra", "--tenant", "contoso", "--group", "Finance", "--add-new", "--yes")

	// A marketing person who has an internal account joins Finance.
	joiner := c.member(t, "Marketing", 0)
	e.ok("users", "add", "mk-internal", "--email", joiner.Mail)
	c.srv.Update(func(tn *graphtest.Tenant) {
		g := tn.GroupByName("Finance")
		g.Members = append(g.Members, joiner.ID)
	})
	run := runOf(t, e.ok("sync", "Finance", "--yes", "--json"))
	if ent, ok := entryOf(run, entra.Username(joiner.UserPrincipalName)); !ok || ent.Action != "updated" || !strings.Contains(ent.Reason, "mk-internal") {
		t.Errorf("the joiner's entry = %+v (found %v), want linked to mk-internal by email", ent, ok)
	}
	u := usersByName(t, e)["mk-internal"]
	if u.Kind != "external" || u.Source != "contoso" || !slices.Contains(u.Groups, "Finance") {
		t.Errorf("mk-internal after the sync: %+v", u)
	}
}

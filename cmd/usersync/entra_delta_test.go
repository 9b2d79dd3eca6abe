package main

import (
	"strings"
	"testing"

	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

// TestSyncEntra_ReadsOnlyWhatChanged: after a full sync of groups imported
// from Entra ID, the next sync reads Graph's delta queries: a changed mail,
// a user disabled, a member added and one removed, a user deleted, and a
// member added to a nested group are applied, with mode "incremental", in
// a handful of Graph requests; role assignments stay; --full reads
// everything again and agrees.
func TestSyncEntra_ReadsOnlyWhatChanged(t *testing.T) {
	c := startContoso(t)
	e := newEnv(t)
	c.configure(e)
	tn := c.srv.Tenant()
	all, sales, emea := tn.GroupByName("All Staff"), tn.GroupByName("Sales"), tn.GroupByName("Sales EMEA")
	e.ok("import", "entra", "--tenant", "contoso", "--group", "All Staff", "--add-new", "--yes")
	e.ok("import", "entra", "--tenant", "contoso", "--group", "Sales", "--add-new", "--yes")
	name := func(u *graphtest.User) string { return entra.Username(u.UserPrincipalName) }
	// The first four are members of Sales too.
	renamed, disabled := tn.User(all.Members[0]), tn.User(all.Members[1])
	leaver, deleted := tn.User(all.Members[2]), tn.User(all.Members[3])
	joiner := &graphtest.User{ID: "0d6b3c1e-7a5f-4c2b-9e8d-1f2a3b4c5d6e", DisplayName: "Nina Neu",
		Mail: "nina.neu@contoso.com", UserPrincipalName: "nina.neu@contoso.com", AccountEnabled: true, UserType: "Member"}
	nestedJoiner := &tn.Users[260]
	e.ok("roles", "assign", name(renamed), "Editor")

	// The first sync reads fully and takes a cookie.
	first := runOf(t, e.ok("sync", "--all", "--yes", "--json"))
	if first.Mode != "full" {
		t.Fatalf("first sync: mode %q, want full", first.Mode)
	}

	for _, err := range []error{
		c.srv.SetUserMail(renamed.ID, "renamed@contoso.com"),
		c.srv.SetAccountEnabled(disabled.ID, false),
		c.srv.AddUser(*joiner),
		c.srv.AddMember(all.ID, joiner.ID),
		c.srv.RemoveMember(all.ID, leaver.ID),
		c.srv.DeleteUser(deleted.ID),
		c.srv.AddMember(emea.ID, nestedJoiner.ID),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.srv.ResetCounters()

	r := e.run("sync", "--all", "--yes", "--json")
	runs := jsonLines(t, r.stdout)
	if r.code != exitOK || len(runs) != 1 {
		t.Fatalf("incremental sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	run := runs[0]
	if run.Mode != "incremental" || run.Status != "completed" {
		t.Fatalf("second sync: %+v", run)
	}
	t.Logf("the incremental sync: %d Graph requests (%s)\n%s", c.srv.Requests(), run.Note, strings.Join(c.srv.RequestLog(), "\n"))
	users := usersByName(t, e)
	if u := users[name(renamed)]; u.Email != "renamed@contoso.com" || !hasRole(u, "Editor", "global") {
		t.Errorf("%s after the sync: %+v", name(renamed), u)
	}
	if u := users[name(disabled)]; u.Enabled {
		t.Errorf("%s is disabled in Entra but enabled in the store: %+v", name(disabled), u)
	}
	if u := users[name(deleted)]; u.Enabled {
		t.Errorf("%s was deleted in Entra but is enabled in the store: %+v", name(deleted), u)
	}
	members := func(group string) map[string]bool {
		var g groupJSON
		e.jsonOf(&g, "groups", "show", group, "--json")
		has := map[string]bool{}
		for _, m := range g.Members {
			has[m] = true
		}
		return has
	}
	staff := members("All Staff")
	if !staff[name(joiner)] || staff[name(leaver)] || staff[name(deleted)] || len(staff) != len(all.Members)-1 {
		t.Errorf("All Staff after the sync: %d members, %s %v, %s %v, %s %v", len(staff),
			name(joiner), staff[name(joiner)], name(leaver), staff[name(leaver)], name(deleted), staff[name(deleted)])
	}
	// Sales nests Sales EMEA: a member added there is a member of Sales;
	// the deleted user left it, the one who left All Staff did not.
	if s := members("Sales"); !s[name(nestedJoiner)] || s[name(deleted)] || !s[name(leaver)] || len(s) != len(sales.Members)+len(emea.Members) {
		t.Errorf("Sales after the sync: %d members, %s %v, %s %v", len(s), name(nestedJoiner), s[name(nestedJoiner)], name(deleted), s[name(deleted)])
	}

	// Nothing changed since: the next sync changes nothing.
	again := runOf(t, e.ok("sync", "--all", "--yes", "--json"))
	if again.Mode != "incremental" || again.Counts.Created+again.Counts.Updated+again.Counts.Removed+again.Counts.Disabled != 0 {
		t.Errorf("a sync with nothing changed: mode %s, %+v", again.Mode, again.Counts)
	}
	// A full read agrees with what the feed applied.
	audit := runOf(t, e.ok("sync", "--all", "--full", "--json"))
	if audit.Mode != "full" || audit.Counts.Created+audit.Counts.Updated+audit.Counts.Removed+audit.Counts.Disabled != 0 {
		t.Errorf("drift audit after incremental syncs: %+v\n%v", audit.Counts, audit.Entries)
	}
}

// TestSyncEntra_ExpiredTokenReadsFullyAndSaysSo: a deltaLink Graph no
// longer knows (410 Gone, syncStateNotFound) makes the sync read fully by
// itself, and say so; the sync after it reads incrementally again.
func TestSyncEntra_ExpiredTokenReadsFullyAndSaysSo(t *testing.T) {
	c := startContoso(t)
	e := newEnv(t)
	c.configure(e)
	e.ok("import", "entra", "--tenant", "contoso", "--group", "Finance", "--add-new", "--yes")
	e.ok("sync", "Finance", "--yes") // reads fully, takes a cookie
	c.srv.ExpireDeltaTokens()

	run := runOf(t, e.ok("sync", "Finance", "--yes", "--json"))
	if run.Mode != "full" || !strings.Contains(run.Note, "read fully") || run.Status != "completed" {
		t.Fatalf("sync with an expired token: %+v", run)
	}
	again := runOf(t, e.ok("sync", "Finance", "--yes", "--json"))
	if again.Mode != "incremental" {
		t.Errorf("the sync after the full read: mode %q, note %q", again.Mode, again.Note)
	}
}

package graphtest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory/entra/graphtest"
)

type deltaPage struct {
	Value     []map[string]any `json:"value"`
	NextLink  string           `json:"@odata.nextLink"`
	DeltaLink string           `json:"@odata.deltaLink"`
	Error     struct {
		Code string `json:"code"`
	} `json:"error"`
}

func getDelta(t *testing.T, srv *graphtest.Server, tok, target string) (int, deltaPage) {
	t.Helper()
	status, _, b := get(t, srv, tok, target, nil)
	var p deltaPage
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v: %s", target, err, b)
	}
	return status, p
}

// round follows a delta round from target to its deltaLink.
func round(t *testing.T, srv *graphtest.Server, tok, target string) (items []map[string]any, pages int, deltaLink string) {
	t.Helper()
	for {
		status, p := getDelta(t, srv, tok, target)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", target, status, p.Error.Code)
		}
		pages++
		items = append(items, p.Value...)
		if p.NextLink == "" {
			if p.DeltaLink == "" {
				t.Fatal("a last page without a deltaLink")
			}
			return items, pages, p.DeltaLink
		}
		if p.DeltaLink != "" {
			t.Fatal("a page with both a nextLink and a deltaLink")
		}
		target = p.NextLink
	}
}

func byID(items []map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, it := range items {
		m[it["id"].(string)] = it
	}
	return m
}

func TestDelta_InitialRoundLatestAndChanges(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := start(t, tenant, graphtest.Options{})
	tok := appToken(t, srv)

	// A round from nothing lists everyone, 100 a page.
	users, pages, _ := round(t, srv, tok, "/v1.0/users/delta()?$select=id,mail,accountEnabled")
	if len(users) != len(tenant.Users) || pages != 3 {
		t.Fatalf("initial users round: %d users in %d pages, want %d in 3", len(users), pages, len(tenant.Users))
	}
	groups, _, _ := round(t, srv, tok, "/v1.0/groups/delta?$select=displayName,members")
	sales := tenant.GroupByName("Sales")
	g := byID(groups)[sales.ID]
	if md, _ := g["members@delta"].([]any); len(md) != len(sales.Members)+len(sales.Groups) {
		t.Fatalf("initial Sales: %d members@delta, want %d", len(md), len(sales.Members)+len(sales.Groups))
	}

	// latest: no item, a deltaLink for now.
	status, p := getDelta(t, srv, tok, "/v1.0/users/delta()?$select=id,mail,accountEnabled&$deltatoken=latest")
	if status != http.StatusOK || len(p.Value) != 0 || p.DeltaLink == "" || p.NextLink != "" {
		t.Fatalf("latest: %d %+v", status, p)
	}
	usersLink := p.DeltaLink
	_, p = getDelta(t, srv, tok, "/v1.0/groups/delta()?$select=displayName,members&$deltatoken=latest")
	groupsLink := p.DeltaLink

	a, b := tenant.Users[0], tenant.Users[1]
	must(t, srv.SetUserMail(a.ID, "new@contoso.com"))
	must(t, srv.SetAccountEnabled(b.ID, false))
	must(t, srv.RemoveMember(sales.ID, sales.Members[3]))
	must(t, srv.AddMember(sales.ID, tenant.Users[250].ID))
	must(t, srv.DeleteUser(sales.Members[5]))
	fin := tenant.GroupByName("Finance")
	must(t, srv.AddMember(sales.ID, fin.ID))
	// A change to a property not selected is not reported.
	srv.Update(func(tn *graphtest.Tenant) { tn.User(tenant.Users[2].ID).GivenName = "Renamed" })

	users, _, next := round(t, srv, tok, usersLink)
	got := byID(users)
	if len(users) != 3 || got[a.ID]["mail"] != "new@contoso.com" || got[b.ID]["accountEnabled"] != false {
		t.Fatalf("users changed: %v", users)
	}
	if rm, _ := got[sales.Members[5]]["@removed"].(map[string]any); rm["reason"] != "changed" {
		t.Errorf("deleted user: %v", got[sales.Members[5]])
	}
	// The deleted user left Sales and All Staff.
	groups, _, _ = round(t, srv, tok, groupsLink)
	all := tenant.GroupByName("All Staff")
	gg := byID(groups)
	if len(groups) != 2 || gg[sales.ID]["displayName"] != "Sales" || gg[all.ID] == nil {
		t.Fatalf("groups changed: %v", groups)
	}
	if md := gg[all.ID]["members@delta"].([]any); len(md) != 1 || md[0].(map[string]any)["id"] != sales.Members[5] {
		t.Errorf("All Staff: %v", md)
	}
	var added, removed []string
	for _, m := range gg[sales.ID]["members@delta"].([]any) {
		mm := m.(map[string]any)
		if _, ok := mm["@removed"]; ok {
			removed = append(removed, mm["id"].(string))
		} else {
			added = append(added, mm["id"].(string)+" "+mm["@odata.type"].(string))
		}
	}
	if strings.Join(removed, ",") != sales.Members[3]+","+sales.Members[5] ||
		strings.Join(added, ",") != tenant.Users[250].ID+" #microsoft.graph.user,"+fin.ID+" #microsoft.graph.group" {
		t.Errorf("members@delta: added %v removed %v", added, removed)
	}

	// Nothing since: an empty round.
	if users, _, _ := round(t, srv, tok, next); len(users) != 0 {
		t.Errorf("a round with no change: %v", users)
	}
}

func TestDelta_ExpiredOrForeignTokensAreGone(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{DeltaTokenLifetime: 300 * time.Millisecond})
	tok := appToken(t, srv)
	_, p := getDelta(t, srv, tok, "/v1.0/users/delta()?$deltatoken=latest")
	link := p.DeltaLink
	if status, _ := getDelta(t, srv, tok, link); status != http.StatusOK {
		t.Fatalf("a fresh token: %d", status)
	}
	time.Sleep(400 * time.Millisecond)
	if status, p := getDelta(t, srv, tok, link); status != http.StatusGone || p.Error.Code != "syncStateNotFound" {
		t.Errorf("a token past its lifetime: %d %s", status, p.Error.Code)
	}

	_, p = getDelta(t, srv, tok, "/v1.0/groups/delta()?$deltatoken=latest")
	srv.ExpireDeltaTokens()
	if status, p := getDelta(t, srv, tok, p.DeltaLink); status != http.StatusGone || p.Error.Code != "syncStateNotFound" {
		t.Errorf("an expired token: %d %s", status, p.Error.Code)
	}
	if status, _ := getDelta(t, srv, tok, "/v1.0/users/delta()?$deltatoken=garbage"); status != http.StatusGone {
		t.Errorf("an unknown token: %d", status)
	}
	other := start(t, graphtest.SampleTenant(), graphtest.Options{})
	_, p = getDelta(t, other, appToken(t, other), "/v1.0/users/delta()?$deltatoken=latest")
	foreign := strings.Replace(p.DeltaLink, other.URL(), srv.URL(), 1)
	if status, _ := getDelta(t, srv, tok, foreign); status != http.StatusGone {
		t.Errorf("another server's token: %d", status)
	}
}

func TestDelta_ManyMemberChangesComeInParts(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(400)
	small := tenant.GroupByName("Small Team")
	srv := start(t, tenant, graphtest.Options{})
	tok := appToken(t, srv)
	_, p := getDelta(t, srv, tok, "/v1.0/groups/delta()?$select=id,displayName,members&$deltatoken=latest")
	srv.Update(func(tn *graphtest.Tenant) {
		g := tn.Group(small.ID)
		for _, u := range tn.Users[10:260] {
			g.Members = append(g.Members, u.ID)
		}
	})
	groups, _, _ := round(t, srv, tok, p.DeltaLink)
	n := 0
	for _, g := range groups {
		if g["id"] != small.ID {
			t.Fatalf("unexpected group %v", g["id"])
		}
		n += len(g["members@delta"].([]any))
	}
	if len(groups) != 3 || n != 250 {
		t.Errorf("250 members added: %d appearances with %d members, want 3 with 250", len(groups), n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package entra_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func entryByID(ch *directory.Changes, id string) (directory.Entry, bool) {
	for _, e := range ch.Entries {
		if e.ExternalID == id {
			return e, true
		}
	}
	return directory.Entry{}, false
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// emptyChanges reports whether ch says nothing changed.
func emptyChanges(ch *directory.Changes) bool {
	return len(ch.Entries) == 0 && len(ch.Deleted) == 0 && len(ch.MembersAdded) == 0 &&
		len(ch.MembersRemoved) == 0 && len(ch.Members) == 0 && ch.Present == nil
}

func TestChanges_ReportExactlyWhatChanged(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	ctx := ctxT(t)
	srv.ResetCounters()

	cookie, err := d.FeedCookie(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if log := srv.RequestLog(); len(log) != 2 ||
		!strings.Contains(log[0], "/users/delta") || !strings.Contains(log[0], "$deltatoken=latest") ||
		!strings.Contains(log[0], "$select=id,displayName,mail,userPrincipalName,accountEnabled,userType") ||
		!strings.Contains(log[1], "/groups/delta") || !strings.Contains(log[1], "$select=id,displayName,mail,members") {
		t.Fatalf("FeedCookie's requests:\n%s", strings.Join(log, "\n"))
	}

	sales, emea := tenant.GroupByName("Sales"), tenant.GroupByName("Sales EMEA")
	mkt, fin, help := tenant.GroupByName("Marketing"), tenant.GroupByName("Finance"), tenant.GroupByName("Helpdesk")
	hr, all := tenant.GroupByName("Human Resources"), tenant.GroupByName("All Staff")
	renamed, disabled := tenant.User(sales.Members[0]), tenant.User(sales.Members[1])
	joiner, leaver, deleted := tenant.Users[250], fin.Members[2], help.Members[4]
	nestedJoiner := tenant.Users[260]

	must(t, srv.SetUserMail(renamed.ID, "renamed@contoso.com"))                    // mail changed
	must(t, srv.SetAccountEnabled(disabled.ID, false))                             // user disabled
	must(t, srv.AddMember(mkt.ID, joiner.ID))                                      // member added
	must(t, srv.RemoveMember(fin.ID, leaver))                                      // member removed
	must(t, srv.DeleteUser(deleted))                                               // user deleted
	must(t, srv.AddMember(emea.ID, nestedJoiner.ID))                               // a member added to a nested group
	must(t, srv.AddMember(mkt.ID, hr.ID))                                          // a group nested
	srv.Update(func(tn *graphtest.Tenant) { tn.Users[270].GivenName = "Renamed" }) // not a property the feed selects
	srv.ResetCounters()

	ch, err := d.Changes(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	requests := srv.Requests()
	t.Logf("Changes: %d Graph requests:\n%s", requests, strings.Join(srv.RequestLog(), "\n"))

	// Users: as the adapter maps them elsewhere.
	if e, ok := entryByID(ch, renamed.ID); !ok || e.Email != "renamed@contoso.com" || e.Type != directory.TypeUser ||
		e.Name != entra.Username(renamed.UserPrincipalName) || e.DN != renamed.UserPrincipalName || e.DisplayName != renamed.DisplayName || e.Disabled {
		t.Errorf("the user whose mail changed: %+v (found %v)", e, ok)
	}
	if e, ok := entryByID(ch, disabled.ID); !ok || !e.Disabled || e.Email != disabled.Mail {
		t.Errorf("the disabled user: %+v (found %v)", e, ok)
	}
	// Groups: those whose membership changed, and the nested one, typed
	// group with its name.
	var users, groups []string
	for _, e := range ch.Entries {
		if e.Type == directory.TypeUser {
			users = append(users, e.ExternalID)
		} else {
			groups = append(groups, e.ExternalID)
		}
	}
	if want := sorted([]string{renamed.ID, disabled.ID}); !slices.Equal(sorted(users), want) {
		t.Errorf("users among Entries = %v, want %v", users, want)
	}
	if want := sorted([]string{mkt.ID, fin.ID, help.ID, all.ID, emea.ID, hr.ID}); !slices.Equal(sorted(groups), want) {
		t.Errorf("groups among Entries = %v, want %v", groups, want)
	}
	if e, _ := entryByID(ch, hr.ID); e.Name != "Human Resources" || e.Type != directory.TypeGroup {
		t.Errorf("the nested group: %+v", e)
	}
	if e, _ := entryByID(ch, mkt.ID); e.Name != "Marketing" || e.Email != mkt.Mail {
		t.Errorf("Marketing: %+v", e)
	}
	added := map[string][]string{mkt.ID: sorted([]string{joiner.ID, hr.ID}), emea.ID: {nestedJoiner.ID}}
	removed := map[string][]string{fin.ID: {leaver}, help.ID: {deleted}, all.ID: {deleted}}
	for name, c := range map[string]struct{ got, want map[string][]string }{
		"MembersAdded": {ch.MembersAdded, added}, "MembersRemoved": {ch.MembersRemoved, removed},
	} {
		if len(c.got) != len(c.want) {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
		for g, ids := range c.want {
			if !slices.Equal(sorted(c.got[g]), ids) {
				t.Errorf("%s[%s] = %v, want %v", name, g, c.got[g], ids)
			}
		}
	}
	if !slices.Equal(ch.Deleted, []string{deleted}) {
		t.Errorf("Deleted = %v, want [%s]", ch.Deleted, deleted)
	}
	if ch.Members != nil || ch.Presence() {
		t.Errorf("Members %v Present %v: Entra sends deltas", ch.Members, ch.Present)
	}
	// 3 users and 5 groups sent, 1 nested group read.
	if ch.Reads != 9 {
		t.Errorf("Reads = %d, want 9", ch.Reads)
	}
	// users/delta, groups/delta, getByIds for the nested group.
	if requests != 3 {
		t.Errorf("Graph requests = %d, want 3", requests)
	}

	// The new cookie: nothing since.
	again, err := d.Changes(ctx, ch.Cookie)
	if err != nil {
		t.Fatal(err)
	}
	if !emptyChanges(again) || again.Reads != 0 {
		t.Errorf("changes since the new cookie: %+v", again)
	}
	if len(again.Cookie) == 0 {
		t.Error("no cookie after a round without changes")
	}
}

func TestChanges_RefusedCookies(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	d := open(t, srv, entra.Options{})
	ctx := ctxT(t)
	cookie, err := d.FeedCookie(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.ExpireDeltaTokens()
	srv.ResetCounters()
	ch, err := d.Changes(ctx, cookie)
	if !errors.Is(err, directory.ErrCookieRefused) || ch != nil {
		t.Fatalf("an expired token: %v, %v; want ErrCookieRefused and no changes", ch, err)
	}
	if !strings.Contains(err.Error(), "410") || !strings.Contains(err.Error(), "syncStateNotFound") {
		t.Errorf("the error does not say what Graph answered: %v", err)
	}
	if srv.Requests() != 1 {
		t.Errorf("requests = %d, want 1", srv.Requests())
	}

	other := configFor(srv)
	other.TenantID = "fabrikam.onmicrosoft.com"
	damaged := bytes.Replace(cookie, []byte("deltatoken"), []byte("deltaToken"), 1)
	for name, c := range map[string][]byte{
		"empty":   nil,
		"damaged": damaged,
		"ldap":    []byte("usersync-ldap-feed/1\n{}\n00"),
	} {
		srv.ResetCounters()
		if _, err := d.Changes(ctx, c); !errors.Is(err, directory.ErrCookieRefused) {
			t.Errorf("%s cookie: %v, want ErrCookieRefused", name, err)
		}
		if srv.Requests() != 0 {
			t.Errorf("%s cookie: %d requests, want none", name, srv.Requests())
		}
	}
}

func TestChanges_CookieOfAnotherTenantIsRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	cookie, err := open(t, srv, entra.Options{}).FeedCookie(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := configFor(srv)
	cfg.TenantID = graphtest.SampleDomain // the same tenant by another name still counts as another
	d, err := entra.Open(ctxT(t), cfg, entra.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Changes(ctxT(t), cookie); !errors.Is(err, directory.ErrCookieRefused) || !strings.Contains(err.Error(), "tenant") {
		t.Errorf("a cookie from tenant %s read as %s: %v", srv.TenantID(), cfg.TenantID, err)
	}
}

// manyChanges changes the mail of n users: a users' round of several pages.
func manyChanges(t *testing.T, srv *graphtest.Server, tenant graphtest.Tenant, n int) {
	t.Helper()
	srv.Update(func(tn *graphtest.Tenant) {
		for i := range n {
			tn.Users[i].Mail = "changed." + tn.Users[i].Mail
		}
	})
}

func TestChanges_RoundCutShortIsIncomplete(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	cases := []struct {
		name  string
		fault graphtest.Fault
		opts  entra.Options
		is    error
	}{
		{"a page that never arrives", graphtest.Fault{Path: "/users/delta", Skip: 1, Hang: true},
			entra.Options{RequestTimeout: 500 * time.Millisecond}, entra.ErrTimeout},
		{"throttling that outlasts the retries", graphtest.Fault{Path: "/groups/delta", Status: http.StatusTooManyRequests, RetryAfter: "0"},
			entra.Options{MaxRetries: 2}, entra.ErrThrottled},
		{"a server error", graphtest.Fault{Path: "/users/delta", Skip: 2, Status: http.StatusServiceUnavailable},
			entra.Options{MaxRetries: 1}, entra.ErrThrottled},
		{"a dropped connection", graphtest.Fault{Path: "/users/delta", Skip: 1, Drop: true}, entra.Options{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tenant, graphtest.Options{})
			d := open(t, srv, c.opts)
			cookie, err := d.FeedCookie(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			manyChanges(t, srv, tenant, 250) // three pages of users
			srv.AddFault(c.fault)
			ch, err := d.Changes(ctxT(t), cookie)
			if ch != nil || !errors.Is(err, directory.ErrIncomplete) {
				t.Fatalf("got %v, %v; want no changes and ErrIncomplete", ch, err)
			}
			if errors.Is(err, directory.ErrCookieRefused) {
				t.Errorf("a round cut short refuses the cookie: %v", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want it to match %v", err, c.is)
			}
			t.Log(err)

			// The same cookie, once Graph answers again: the whole round.
			srv.ClearFaults()
			ch, err = d.Changes(ctxT(t), cookie)
			if err != nil || len(ch.Entries) != 250 {
				t.Fatalf("after the fault: %v entries, %v", ch, err)
			}
		})
	}
}

func TestChanges_ThrottlingIsWaitedOut(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	cookie, err := d.FeedCookie(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	manyChanges(t, srv, tenant, 150)
	srv.AddFault(graphtest.Fault{Path: "/users/delta", Skip: 1, Times: 1, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	ch, err := d.Changes(ctxT(t), cookie)
	if err != nil || len(ch.Entries) != 150 || srv.Faulted() != 1 {
		t.Fatalf("throttled once: %d faulted, %v", srv.Faulted(), err)
	}
}

func TestChanges_Cancelled(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	d := open(t, srv, entra.Options{})
	cookie, err := d.FeedCookie(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	srv.AddFault(graphtest.Fault{Path: "/users/delta", Hang: true})
	ctx, cancel := context.WithCancel(ctxT(t))
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := d.Changes(ctx, cookie); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("cancellation was not prompt")
	}
}

func TestChanges_10kMemberGroupTenantTenChangesFewRequests(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(10000)
	all, small := tenant.GroupByName(graphtest.LargeGroupName), tenant.GroupByName("Small Team")
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	ctx := ctxT(t)
	cookie, err := d.FeedCookie(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Ten changes.
	for i := range 4 {
		must(t, srv.SetUserMail(tenant.Users[100+i].ID, "moved."+tenant.Users[100+i].Mail))
	}
	must(t, srv.SetAccountEnabled(tenant.Users[200].ID, false))
	must(t, srv.SetAccountEnabled(tenant.Users[201].ID, false))
	must(t, srv.RemoveMember(all.ID, tenant.Users[300].ID))
	must(t, srv.RemoveMember(all.ID, tenant.Users[301].ID))
	must(t, srv.AddMember(small.ID, tenant.Users[400].ID))
	must(t, srv.DeleteUser(tenant.Users[500].ID))

	srv.ResetCounters()
	ch, err := d.Changes(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	requests := srv.Requests()
	t.Logf("an incremental read of a 10,000-member group's tenant with 10 changes: %d Graph requests, %d reads\n%s",
		requests, ch.Reads, strings.Join(srv.RequestLog(), "\n"))
	if requests > 3 {
		t.Errorf("Graph requests = %d, want at most 3", requests)
	}
	if len(ch.Entries) != 6+2 || len(ch.Deleted) != 1 ||
		len(ch.MembersRemoved[all.ID]) != 3 || len(ch.MembersAdded[small.ID]) != 1 {
		t.Errorf("changes: %d entries, deleted %v, removed from %s %v, added to %s %v",
			len(ch.Entries), ch.Deleted, all.DisplayName, ch.MembersRemoved[all.ID], small.DisplayName, ch.MembersAdded[small.ID])
	}
}

// A nested group taken out of a group comes as its id in members@delta:
// it is read, so that it is among Entries (the caller reads the parent
// whole, its members no longer flattened into it).
func TestChanges_NestedGroupRemovedIsAmongEntries(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	cookie, err := d.FeedCookie(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	eng, platform := tenant.GroupByName("Engineering"), tenant.GroupByName("Platform Team")
	must(t, srv.RemoveMember(eng.ID, platform.ID))
	ch, err := d.Changes(ctxT(t), cookie)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.MembersRemoved[eng.ID], []string{platform.ID}) || len(ch.MembersAdded) != 0 {
		t.Errorf("removed %v added %v, want Platform Team removed from Engineering", ch.MembersRemoved, ch.MembersAdded)
	}
	if e, ok := entryByID(ch, platform.ID); !ok || e.Type != directory.TypeGroup || e.Name != "Platform Team" {
		t.Errorf("the nested group among Entries: %+v (found %v)", e, ok)
	}
	if _, ok := entryByID(ch, eng.ID); !ok || len(ch.Entries) != 2 || len(ch.Deleted) != 0 {
		t.Errorf("entries %+v deleted %v", ch.Entries, ch.Deleted)
	}
}

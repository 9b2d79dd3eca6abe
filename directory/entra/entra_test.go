package entra_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

const testSecret = "s3cret-value"

// startServer serves tenant on loopback HTTPS for the test's duration.
func startServer(tb testing.TB, tenant graphtest.Tenant, opts graphtest.Options) *graphtest.Server {
	tb.Helper()
	if opts.ClientSecret == "" {
		opts.ClientSecret = testSecret
	}
	srv, err := graphtest.Start(tenant, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	return srv
}

// configFor is a client-secret configuration pointing at srv.
func configFor(srv *graphtest.Server) entra.Config {
	return entra.Config{
		Name:          "contoso",
		TenantID:      srv.TenantID(),
		ClientID:      graphtest.SampleClientID,
		Auth:          entra.AuthClientSecret,
		AuthorityHost: srv.AuthorityHost(),
		GraphEndpoint: srv.GraphEndpoint(),
		CAFile:        srv.CAFile(),
		ClientSecret:  testSecret,
	}
}

func open(tb testing.TB, srv *graphtest.Server, opts entra.Options) *entra.Directory {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := entra.Open(ctx, configFor(srv), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func byName(t *testing.T, members []directory.Entry, name string) directory.Entry {
	t.Helper()
	for _, m := range members {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no member named %q among %d", name, len(members))
	return directory.Entry{}
}

// graphLog returns the Graph requests whose path contains part.
func graphLog(srv *graphtest.Server, part string) []string {
	var out []string
	for _, l := range srv.RequestLog() {
		if strings.Contains(l, part) {
			out = append(out, l)
		}
	}
	return out
}

func TestReadGroup_FollowsNextLinkAcrossPages(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(2500)
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	g := tenant.GroupByName(graphtest.LargeGroupName)
	srv.ResetCounters()

	read, err := d.ReadGroup(ctxT(t), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !read.Complete() || len(read.Members) != 2500 || read.Group.MemberCount != 2500 {
		t.Fatalf("complete=%v members=%d count=%d, want a complete read of 2500", read.Complete(), len(read.Members), read.Group.MemberCount)
	}
	if read.Group.Name != graphtest.LargeGroupName || read.Group.Type != directory.TypeGroup || read.Group.ExternalID != g.ID {
		t.Errorf("group entry = %+v", read.Group)
	}
	pages := graphLog(srv, "/transitiveMembers")
	if len(pages) != 3 {
		t.Fatalf("transitiveMembers requests = %d, want 3 pages of 999:\n%s", len(pages), strings.Join(pages, "\n"))
	}
	for _, p := range pages {
		if !strings.Contains(p, "$select=id,displayName,mail,userPrincipalName,accountEnabled,userType") || !strings.Contains(p, "$top=999") {
			t.Errorf("page request lacks the $select of mapped fields or $top=999: %s", p)
		}
	}
	if got := srv.Requests(); got != 4 {
		t.Errorf("Graph requests = %d, want 4 (the group, then 3 pages)", got)
	}
	seen := map[string]bool{}
	for _, m := range read.Members {
		if seen[m.ExternalID] {
			t.Fatalf("member %s listed twice", m.ExternalID)
		}
		seen[m.ExternalID] = true
	}
}

func TestReadGroup_Reads10kMemberGroup(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(10000)
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	srv.ResetCounters()

	read, err := d.ReadGroup(ctxT(t), tenant.GroupByName(graphtest.LargeGroupName).ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(read.Members) != 10000 || !read.Complete() {
		t.Fatalf("members = %d (complete %v), want 10000", len(read.Members), read.Complete())
	}
	if got, want := srv.Requests(), int64(1+11); got != want {
		t.Errorf("Graph requests = %d, want %d (the group, then ceil(10000/999) pages)", got, want)
	}
	first := tenant.Users[0]
	m := byName(t, read.Members, entra.Username(first.UserPrincipalName))
	if m.ExternalID != first.ID || m.Email != first.Mail || m.DisplayName != first.DisplayName || m.DN != first.UserPrincipalName {
		t.Errorf("member = %+v, want the mapping of %+v", m, first)
	}
}

func TestReadGroup_FlattensNestedGroups(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	eng := tenant.GroupByName("Engineering")

	read, err := d.ReadGroup(ctxT(t), eng.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := tenant.TransitiveUsers(eng.ID)
	if len(read.Members) != len(want) || len(want) <= len(eng.Members) {
		t.Fatalf("members = %d, want %d (more than the %d direct members)", len(read.Members), len(want), len(eng.Members))
	}
	// Platform Team is nested in Engineering, SRE On-Call in Platform Team.
	sre := tenant.GroupByName("SRE On-Call")
	got := map[string]bool{}
	for _, m := range read.Members {
		if m.Type != directory.TypeUser {
			t.Errorf("member %s is a %s; only users belong in a read", m.Name, m.Type)
		}
		got[m.ExternalID] = true
	}
	for _, id := range sre.Members {
		if !got[id] {
			t.Errorf("SRE On-Call member %s (two levels down) is missing", id)
		}
	}
	// The nested groups, at any depth, are named: a change to one of them
	// changes Engineering's membership.
	if platform := tenant.GroupByName("Platform Team"); !slices.Equal(sorted(read.Nested), sorted([]string{platform.ID, sre.ID})) {
		t.Errorf("Nested = %v, want Platform Team %s and SRE On-Call %s", read.Nested, platform.ID, sre.ID)
	}
}

func TestReadGroup_MapsNoMailDisabledAndGuestUsers(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	ctx := ctxT(t)

	eng, err := d.ReadGroup(ctx, tenant.GroupByName("Engineering").ID)
	if err != nil {
		t.Fatal(err)
	}
	omar := byName(t, eng.Members, "omar.haddad")
	if omar.Email != "omar.haddad@"+graphtest.SampleDomain || omar.DN != omar.Email || omar.Disabled || omar.Guest {
		t.Errorf("user without mail = %+v, want Email = userPrincipalName", omar)
	}

	sales, err := d.ReadGroup(ctx, tenant.GroupByName("Sales").ID)
	if err != nil {
		t.Fatal(err)
	}
	dana := byName(t, sales.Members, "dana.whitfield")
	if !dana.Disabled || dana.Email != "dana.whitfield@contoso.com" {
		t.Errorf("disabled user = %+v, want Disabled", dana)
	}
	for _, m := range sales.Members {
		if m.Disabled && m.Name != "dana.whitfield" {
			t.Errorf("%s marked disabled", m.Name)
		}
	}

	mkt, err := d.ReadGroup(ctx, tenant.GroupByName("Marketing").ID)
	if err != nil {
		t.Fatal(err)
	}
	jane := byName(t, mkt.Members, "jane.doe_fabrikam.com")
	if !jane.Guest || jane.Email != "jane.doe@fabrikam.com" || !strings.Contains(jane.DN, "#EXT#") {
		t.Errorf("guest = %+v, want Guest with mail and the #EXT# UPN as DN", jane)
	}
}

func TestReadGroup_WaitsOutThrottlingAndReportsIt(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(2500)
	srv := startServer(t, tenant, graphtest.Options{})
	var mu sync.Mutex
	var waits []time.Duration
	d := open(t, srv, entra.Options{OnThrottle: func(w time.Duration) {
		mu.Lock()
		waits = append(waits, w)
		mu.Unlock()
	}})
	g := tenant.GroupByName(graphtest.LargeGroupName)
	// The second page is throttled twice, with Retry-After: 1.
	srv.AddFault(graphtest.Fault{Path: "/groups/" + g.ID + "/transitiveMembers", Skip: 1, Times: 2,
		Status: http.StatusTooManyRequests, RetryAfter: "1"})

	start := time.Now()
	read, err := d.ReadGroup(ctxT(t), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if len(read.Members) != 2500 || !read.Complete() {
		t.Fatalf("members = %d, want all 2500 once the throttling passed", len(read.Members))
	}
	if srv.Faulted() != 2 {
		t.Errorf("throttled answers = %d, want 2", srv.Faulted())
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(waits, []time.Duration{time.Second, time.Second}) {
		t.Errorf("OnThrottle waits = %v, want [1s 1s] (Retry-After honoured)", waits)
	}
	if elapsed < 2*time.Second {
		t.Errorf("read took %s; Retry-After: 1 twice should take at least 2s", elapsed)
	}
}

func TestReadGroup_RetriesServiceUnavailable(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	throttled := atomic.Int32{}
	d := open(t, srv, entra.Options{OnThrottle: func(time.Duration) { throttled.Add(1) }})
	g := tenant.GroupByName("Sales")
	srv.AddFault(graphtest.Fault{Path: "/groups/" + g.ID + "/transitiveMembers", Times: 2,
		Status: http.StatusServiceUnavailable, RetryAfter: "0"})

	read, err := d.ReadGroup(ctxT(t), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !read.Complete() || len(read.Members) != len(tenant.TransitiveUsers(g.ID)) {
		t.Fatalf("members = %d, want all after two 503s", len(read.Members))
	}
	if throttled.Load() != 2 {
		t.Errorf("OnThrottle calls = %d, want 2", throttled.Load())
	}
}

func TestReadGroup_PageThatNeverArrivesIsIncomplete(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(2500)
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{RequestTimeout: 500 * time.Millisecond})
	g := tenant.GroupByName(graphtest.LargeGroupName)
	srv.AddFault(graphtest.Fault{Path: "/groups/" + g.ID + "/transitiveMembers", Skip: 1, Hang: true})

	read, err := d.ReadGroup(ctxT(t), g.ID)
	if !errors.Is(err, directory.ErrIncomplete) {
		t.Fatalf("err = %v, want one wrapping directory.ErrIncomplete", err)
	}
	if !errors.Is(err, entra.ErrTimeout) {
		t.Errorf("err = %v, want it to say the page timed out", err)
	}
	var ie *directory.IncompleteError
	if !errors.As(err, &ie) || !strings.Contains(ie.Reason, "page 2") {
		t.Errorf("reason = %v, want it to name page 2", err)
	}
	if read == nil || read.Complete() || len(read.Members) != 999 {
		t.Errorf("partial read = %+v, want 999 members and Incomplete set", read)
	}
}

func TestReadGroup_PageFailingAfterRetriesIsIncomplete(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(1500)
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{MaxRetries: 2})
	g := tenant.GroupByName(graphtest.LargeGroupName)
	srv.AddFault(graphtest.Fault{Path: "/groups/" + g.ID + "/transitiveMembers", Skip: 1,
		Status: http.StatusServiceUnavailable, RetryAfter: "0"})

	_, err := d.ReadGroup(ctxT(t), g.ID)
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, entra.ErrThrottled) {
		t.Fatalf("err = %v, want ErrIncomplete and ErrThrottled", err)
	}
	if got := srv.Faulted(); got != 3 {
		t.Errorf("503s served = %d, want 3 (the request and 2 retries)", got)
	}
}

func TestReadGroup_RetryAfterBeyondLimitFailsAtOnce(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{MaxRetryWait: 5 * time.Second})
	g := tenant.GroupByName("Sales")
	srv.AddFault(graphtest.Fault{Path: "/groups/" + g.ID + "/transitiveMembers", Status: http.StatusTooManyRequests, RetryAfter: "3600"})

	start := time.Now()
	_, err := d.ReadGroup(ctxT(t), g.ID)
	if !errors.Is(err, entra.ErrThrottled) || !errors.Is(err, directory.ErrIncomplete) {
		t.Fatalf("err = %v, want throttled and incomplete", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("waited %s for a Retry-After of an hour", time.Since(start))
	}
}

func TestReadGroup_RevokedPermissionNamesItAndTheConsentAddress(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	srv.Revoke(graphtest.PermGroupMemberReadAll)

	_, err := d.ReadGroup(ctxT(t), tenant.GroupByName("Sales").ID)
	var pe *entra.PermissionError
	if !errors.Is(err, entra.ErrPermission) || !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a PermissionError", err)
	}
	consent := srv.AuthorityHost() + srv.TenantID() + "/adminconsent?client_id=" + graphtest.SampleClientID
	msg := err.Error()
	for _, want := range []string{"GroupMember.Read.All", consent, "403", "Authorization_RequestDenied", "Insufficient privileges"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if pe.ConsentURL != consent || pe.Status != http.StatusForbidden {
		t.Errorf("PermissionError = %+v", pe)
	}

	// Revoked in the middle of a read: incomplete, and still says why.
	srv.Grant(graphtest.PermGroupMemberReadAll)
	big := graphtest.Generate(1200)
	srv.Update(func(t *graphtest.Tenant) { *t = big })
	g := big.GroupByName(graphtest.LargeGroupName)
	srv.AddFault(graphtest.Fault{Path: "/groups/" + g.ID + "/transitiveMembers", Skip: 1, Status: http.StatusForbidden})
	_, err = d.ReadGroup(ctxT(t), g.ID)
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, entra.ErrPermission) || !strings.Contains(err.Error(), "GroupMember.Read.All") {
		t.Errorf("err = %v, want incomplete naming GroupMember.Read.All", err)
	}
}

func TestReadGroup_UnknownGroupIsNotFound(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	d := open(t, srv, entra.Options{})
	_, err := d.ReadGroup(ctxT(t), "00000000-0000-4000-8000-000000000000")
	if !errors.Is(err, entra.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestLookupUsers_BatchesAndOmitsDeleted(t *testing.T) {
	t.Parallel()
	tenant := graphtest.Generate(2100)
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	var ids []string
	for _, u := range tenant.Users {
		ids = append(ids, u.ID)
	}
	deleted := "0badc0de-0000-4000-8000-000000000000"
	ids = append(ids, deleted)
	srv.ResetCounters()

	found, err := d.LookupUsers(ctxT(t), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2100 {
		t.Errorf("found %d, want 2100", len(found))
	}
	if _, ok := found[deleted]; ok {
		t.Error("a deleted user was found")
	}
	if e := found[tenant.Users[7].ID]; e.Name != entra.Username(tenant.Users[7].UserPrincipalName) || e.Type != directory.TypeUser {
		t.Errorf("entry = %+v", e)
	}
	if got := len(graphLog(srv, "getByIds")); got != 3 {
		t.Errorf("getByIds requests = %d, want 3 batches of at most 1000", got)
	}
}

func TestSearch_MatchesUsersAndGroupsByPrefix(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	ctx := ctxT(t)
	collect := func(q string) []directory.Entry {
		t.Helper()
		var out []directory.Entry
		if err := d.Search(ctx, q, func(e directory.Entry) error { out = append(out, e); return nil }); err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		return out
	}

	an := collect("an*")
	if len(an) == 0 {
		t.Fatal("no results for an*")
	}
	for _, e := range an {
		lower := strings.ToLower(e.DisplayName + " " + e.Email + " " + e.DN)
		if e.Type != directory.TypeUser || !strings.Contains(lower, "an") {
			t.Errorf("unexpected result %+v", e)
		}
	}
	var want int
	for _, u := range tenant.Users {
		for _, v := range []string{u.DisplayName, u.GivenName, u.Surname, u.Mail, u.UserPrincipalName} {
			if strings.HasPrefix(strings.ToLower(v), "an") {
				want++
				break
			}
		}
	}
	if len(an) != want {
		t.Errorf("an* found %d users, want %d", len(an), want)
	}

	sales := collect("sales")
	var names []string
	for _, e := range sales {
		names = append(names, fmt.Sprintf("%s:%s", e.Type, e.Name))
	}
	if !slices.Equal(names, []string{"group:Sales", "group:Sales EMEA"}) {
		t.Errorf("sales found %v", names)
	}

	raw := collect("(startswith(displayName,'Dana'))")
	if len(raw) == 0 || raw[0].Name != "dana.whitfield" || !raw[0].Disabled {
		t.Errorf("raw OData filter found %+v", raw)
	}
	quote := collect("o'b")
	for _, e := range quote {
		if !strings.Contains(e.DisplayName, "O'Brien") {
			t.Errorf("o'b found %+v", e)
		}
	}
	if err := d.Search(ctx, "*son", func(directory.Entry) error { return nil }); err == nil {
		t.Error("a leading wildcard was accepted; Graph cannot match suffixes")
	}
}

func TestListGroups_NamesAndMemberCounts(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	ctx := ctxT(t)

	var all []directory.Entry
	if err := d.ListGroups(ctx, "", func(e directory.Entry) error { all = append(all, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(tenant.Groups) {
		t.Fatalf("listed %d groups, want %d", len(all), len(tenant.Groups))
	}
	if !slices.IsSortedFunc(all, func(a, b directory.Entry) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	}) {
		t.Error("groups are not sorted by name")
	}
	for _, e := range all {
		g := tenant.GroupByName(e.Name)
		if want := len(tenant.TransitiveUsers(g.ID)); e.MemberCount != want {
			t.Errorf("%s: MemberCount = %d, want %d", e.Name, e.MemberCount, want)
		}
	}

	var found []string
	if err := d.ListGroups(ctx, "emea", func(e directory.Entry) error { found = append(found, e.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found, []string{"Sales EMEA"}) {
		t.Errorf("search emea found %v", found)
	}
}

func TestFindGroup_ByNameOrIDAndAmbiguity(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	ctx := ctxT(t)
	sales := tenant.GroupByName("Sales")

	e, err := d.FindGroup(ctx, "sales")
	if err != nil || e.ExternalID != sales.ID || e.MemberCount != len(tenant.TransitiveUsers(sales.ID)) {
		t.Fatalf("FindGroup(sales) = %+v, %v", e, err)
	}
	e, err = d.FindGroup(ctx, sales.ID)
	if err != nil || e.Name != "Sales" {
		t.Fatalf("FindGroup(id) = %+v, %v", e, err)
	}
	if _, err := d.FindGroup(ctx, "No Such Group"); !errors.Is(err, entra.ErrNotFound) {
		t.Errorf("unknown name: err = %v, want ErrNotFound", err)
	}

	other := graphtest.Group{ID: "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", DisplayName: "Sales"}
	srv.Update(func(t *graphtest.Tenant) { t.Groups = append(t.Groups, other) })
	_, err = d.FindGroup(ctx, "Sales")
	if !errors.Is(err, entra.ErrAmbiguous) || !strings.Contains(err.Error(), sales.ID) || !strings.Contains(err.Error(), other.ID) {
		t.Errorf("err = %v, want ErrAmbiguous listing both ids", err)
	}
}

func TestOpen_DeviceCodeSignInEndToEnd(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	cfg := configFor(srv)
	cfg.Auth, cfg.ClientSecret = entra.AuthDeviceCode, ""

	var prompted atomic.Int32
	opts := entra.Options{DeviceCodePrompt: func(ctx context.Context, p entra.DeviceCodePrompt) {
		prompted.Add(1)
		if !strings.HasPrefix(p.VerificationURL, srv.URL()) || p.UserCode == "" || !strings.Contains(p.Message, p.UserCode) {
			t.Errorf("prompt = %+v", p)
		}
		if codes := srv.PendingUserCodes(); !slices.Contains(codes, p.UserCode) {
			t.Errorf("user code %s is not pending at the server (%v)", p.UserCode, codes)
		}
		// The person opens the address and enters the code.
		go func() {
			resp, err := srv.Client().PostForm(p.VerificationURL, url.Values{"code": {p.UserCode}})
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
		}()
	}}
	d, err := entra.Open(ctxT(t), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if prompted.Load() != 1 {
		t.Fatalf("prompted %d times, want 1", prompted.Load())
	}
	signIn := srv.TokenRequests()
	read, err := d.ReadGroup(ctxT(t), tenant.GroupByName("Sales").ID)
	if err != nil || !read.Complete() {
		t.Fatalf("ReadGroup after device-code sign-in: %v", err)
	}
	if _, err := d.FindGroup(ctxT(t), "Marketing"); err != nil {
		t.Fatal(err)
	}
	if got := srv.TokenRequests(); got != signIn || prompted.Load() != 1 {
		t.Errorf("sign-in requests went from %d to %d, prompts %d: the token cache was not used", signIn, got, prompted.Load())
	}
}

func TestOpen_DeviceCodeApprovedAfterAMoment(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{ApproveAfter: 300 * time.Millisecond})
	cfg := configFor(srv)
	cfg.Auth = entra.AuthDeviceCode
	var got entra.DeviceCodePrompt
	d, err := entra.Open(ctxT(t), cfg, entra.Options{DeviceCodePrompt: func(_ context.Context, p entra.DeviceCodePrompt) { got = p }})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	if got.UserCode == "" {
		t.Error("the prompt was not shown")
	}
}

func TestOpen_DeviceCodeDeclinedOrExpired(t *testing.T) {
	t.Parallel()
	t.Run("declined", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
		cfg := configFor(srv)
		cfg.Auth = entra.AuthDeviceCode
		_, err := entra.Open(ctxT(t), cfg, entra.Options{DeviceCodePrompt: func(context.Context, entra.DeviceCodePrompt) {
			go func() { time.Sleep(100 * time.Millisecond); srv.Decline() }()
		}})
		if !errors.Is(err, entra.ErrSignInDeclined) {
			t.Fatalf("err = %v, want ErrSignInDeclined", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{DeviceCodeLifetime: time.Second})
		cfg := configFor(srv)
		cfg.Auth = entra.AuthDeviceCode
		_, err := entra.Open(ctxT(t), cfg, entra.Options{DeviceCodePrompt: func(context.Context, entra.DeviceCodePrompt) {}})
		if !errors.Is(err, entra.ErrSignInExpired) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v, want ErrSignInExpired", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
		cfg := configFor(srv)
		cfg.Auth = entra.AuthDeviceCode
		ctx, cancel := context.WithCancel(context.Background())
		_, err := entra.Open(ctx, cfg, entra.Options{DeviceCodePrompt: func(context.Context, entra.DeviceCodePrompt) {
			go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestOpen_ClientSecret(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	cfg := configFor(srv)
	d, err := entra.Open(ctxT(t), cfg, entra.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close()

	cfg.ClientSecret = "wrong"
	_, err = entra.Open(ctxT(t), cfg, entra.Options{})
	if !errors.Is(err, entra.ErrSignIn) || !strings.Contains(err.Error(), "client_secret_env") {
		t.Fatalf("err = %v, want ErrSignIn pointing at the secret's source", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

func TestOpen_UnknownTenantSaysSo(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	cfg := configFor(srv)
	cfg.TenantID = "ffffffff-0000-4000-8000-000000000000"
	_, err := entra.Open(ctxT(t), cfg, entra.Options{})
	if !errors.Is(err, entra.ErrSignIn) || !strings.Contains(err.Error(), "tenant_id") {
		t.Fatalf("err = %v, want it to point at tenant_id", err)
	}
}

func TestOpen_UntrustedCertificateSaysSetCAFile(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	cfg := configFor(srv)
	cfg.CAFile = ""
	_, err := entra.Open(ctxT(t), cfg, entra.Options{})
	if !errors.Is(err, entra.ErrTLS) || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("err = %v, want ErrTLS advising ca_file", err)
	}
}

func TestOpen_UnreachableSaysSo(t *testing.T) {
	t.Parallel()
	srv := startServer(t, graphtest.SampleTenant(), graphtest.Options{})
	cfg := configFor(srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "https://" + l.Addr().String() + "/"
	_ = l.Close()
	cfg.AuthorityHost, cfg.GraphEndpoint = dead, dead
	_, err = entra.Open(ctxT(t), cfg, entra.Options{})
	if !errors.Is(err, entra.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

func TestReadGroup_MembersWithoutUserReadAllAreNotTakenAsUsers(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := startServer(t, tenant, graphtest.Options{})
	d := open(t, srv, entra.Options{})
	// Graph then lists members with their id alone.
	srv.Revoke(graphtest.PermUserReadAll)
	read, err := d.ReadGroup(ctxT(t), tenant.GroupByName("Sales").ID)
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, entra.ErrPermission) || !strings.Contains(err.Error(), "User.Read.All") {
		t.Fatalf("err = %v, want incomplete naming User.Read.All", err)
	}
	if strings.Count(err.Error(), "entra contoso") != 1 {
		t.Errorf("message repeats itself: %v", err)
	}
	if read != nil && len(read.Members) != 0 {
		t.Errorf("%d nameless members were taken", len(read.Members))
	}
}

package graphtest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory/entra/graphtest"
)

func start(t *testing.T, tenant graphtest.Tenant, opts graphtest.Options) *graphtest.Server {
	t.Helper()
	srv, err := graphtest.Start(tenant, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// appToken gets an app token with client credentials.
func appToken(t *testing.T, srv *graphtest.Server) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	status := postForm(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"x"},
		"scope": {srv.GraphEndpoint() + "/.default"},
	}, &tok)
	if status != http.StatusOK || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		t.Fatalf("token: %d %+v", status, tok)
	}
	return tok.AccessToken
}

func postForm(t *testing.T, srv *graphtest.Server, path string, form url.Values, out any) int {
	t.Helper()
	resp, err := srv.Client().PostForm(srv.URL()+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

type collection struct {
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
	Count    *int             `json:"@odata.count"`
	Error    struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// get fetches a Graph address (absolute, or a path under the server).
func get(t *testing.T, srv *graphtest.Server, tok, target string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	if !strings.HasPrefix(target, "https://") {
		target = srv.URL() + target
	}
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func getColl(t *testing.T, srv *graphtest.Server, tok, target string, header map[string]string) (int, collection) {
	t.Helper()
	status, _, b := get(t, srv, tok, target, header)
	var c collection
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v: %s", target, err, b)
	}
	return status, c
}

func TestOpenIDMetadata_IssuerMatchesAuthority(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{})
	status, _, b := get(t, srv, "", "/"+srv.TenantID()+"/v2.0/.well-known/openid-configuration", nil)
	var meta map[string]any
	_ = json.Unmarshal(b, &meta)
	if status != http.StatusOK || meta["issuer"] != srv.URL()+"/"+srv.TenantID()+"/v2.0" ||
		meta["token_endpoint"] != srv.URL()+"/"+srv.TenantID()+"/oauth2/v2.0/token" || meta["authorization_endpoint"] == nil {
		t.Fatalf("metadata %d: %v", status, meta)
	}
	status, _, _ = get(t, srv, "", "/other-tenant/v2.0/.well-known/openid-configuration", nil)
	if status != http.StatusBadRequest {
		t.Errorf("unknown tenant: status %d, want 400", status)
	}
}

func TestToken_ClientSecretChecked(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{ClientSecret: "right"})
	var e struct {
		Error string `json:"error"`
	}
	status := postForm(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"wrong"}, "scope": {"x/.default"},
	}, &e)
	if status != http.StatusUnauthorized || e.Error != "invalid_client" {
		t.Errorf("wrong secret: %d %q", status, e.Error)
	}
}

func TestDeviceCode_PendingUntilApproved(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{})
	var dc struct {
		UserCode, DeviceCode, VerificationURI, Message string
		ExpiresIn                                      int `json:"expires_in"`
	}
	var raw map[string]any
	status := postForm(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {"app"}, "scope": {"x/.default openid"}}, &raw)
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &struct {
		UserCode        *string `json:"user_code"`
		DeviceCode      *string `json:"device_code"`
		VerificationURI *string `json:"verification_uri"`
		Message         *string `json:"message"`
		ExpiresIn       *int    `json:"expires_in"`
	}{&dc.UserCode, &dc.DeviceCode, &dc.VerificationURI, &dc.Message, &dc.ExpiresIn})
	if status != http.StatusOK || dc.UserCode == "" || dc.DeviceCode == "" || !strings.Contains(dc.Message, dc.UserCode) || dc.ExpiresIn <= 0 {
		t.Fatalf("devicecode: %d %+v", status, raw)
	}
	poll := func() (int, map[string]any) {
		var out map[string]any
		s := postForm(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {"app"}, "device_code": {dc.DeviceCode},
		}, &out)
		return s, out
	}
	if s, out := poll(); s != http.StatusBadRequest || out["error"] != "authorization_pending" {
		t.Fatalf("before approval: %d %v", s, out)
	}
	if n := srv.Approve(); n != 1 {
		t.Fatalf("approved %d codes, want 1", n)
	}
	s, out := poll()
	if s != http.StatusOK || out["access_token"] == nil || out["id_token"] == nil || out["refresh_token"] == nil {
		t.Fatalf("after approval: %d %v", s, out)
	}
	ci, err := base64.RawURLEncoding.DecodeString(out["client_info"].(string))
	var info map[string]string
	if err != nil || json.Unmarshal(ci, &info) != nil || info["uid"] == "" || info["utid"] != srv.TenantID() {
		t.Errorf("client_info = %s (%v)", ci, err)
	}
	if s, _ := poll(); s != http.StatusBadRequest {
		t.Errorf("a device code was redeemed twice")
	}
}

func TestDeviceCode_ApprovesItselfAfterDelay(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{ApproveAfter: 50 * time.Millisecond, UserCode: "DEMO1234"})
	var dc map[string]any
	postForm(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {"app"}, "scope": {"x"}}, &dc)
	if dc["user_code"] != "DEMO1234" {
		t.Errorf("user_code = %v, want the fixed DEMO1234", dc["user_code"])
	}
	time.Sleep(60 * time.Millisecond)
	var out map[string]any
	s := postForm(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"device_code"}, "client_id": {"app"}, "device_code": {dc["device_code"].(string)},
	}, &out)
	if s != http.StatusOK || out["access_token"] == nil {
		t.Fatalf("%d %v", s, out)
	}
}

func TestGraph_RequiresToken(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{})
	status, c := getColl(t, srv, "", "/v1.0/users", nil)
	if status != http.StatusUnauthorized || c.Error.Code != "InvalidAuthenticationToken" {
		t.Errorf("no token: %d %+v", status, c.Error)
	}
	status, _ = getColl(t, srv, "forged", "/v1.0/users", nil)
	if status != http.StatusUnauthorized {
		t.Errorf("forged token: %d", status)
	}
}

func TestTransitiveMembers_PagesSelectsAndFlattens(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := start(t, tenant, graphtest.Options{})
	tok := appToken(t, srv)
	eng := tenant.GroupByName("Engineering")

	next := "/v1.0/groups/" + eng.ID + "/transitiveMembers?$select=id,accountEnabled&$top=25"
	var users, groups, pages int
	for next != "" {
		status, c := getColl(t, srv, tok, next, nil)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %+v", next, status, c.Error)
		}
		pages++
		for _, v := range c.Value {
			switch v["@odata.type"] {
			case "#microsoft.graph.user":
				users++
				if _, ok := v["accountEnabled"]; !ok || v["displayName"] != nil {
					t.Fatalf("$select not applied: %v", v)
				}
			case "#microsoft.graph.group":
				groups++
			}
		}
		if c.NextLink != "" && !strings.HasPrefix(c.NextLink, srv.URL()+"/v1.0/") {
			t.Fatalf("nextLink %q is not absolute", c.NextLink)
		}
		next = c.NextLink
	}
	if want := len(tenant.TransitiveUsers(eng.ID)); users != want || groups != 2 {
		t.Errorf("users %d groups %d, want %d users and the 2 nested groups", users, groups, want)
	}
	if pages < 4 {
		t.Errorf("pages = %d, want several", pages)
	}

	// The cast keeps users only; $count needs ConsistencyLevel.
	_, c := getColl(t, srv, tok, "/v1.0/groups/"+eng.ID+"/transitiveMembers/microsoft.graph.user?$top=999", nil)
	if len(c.Value) != users {
		t.Errorf("cast to user: %d, want %d", len(c.Value), users)
	}
	status, _, b := get(t, srv, tok, "/v1.0/groups/"+eng.ID+"/transitiveMembers/graph.user/$count", map[string]string{"ConsistencyLevel": "eventual"})
	if status != http.StatusOK || strings.TrimSpace(string(b)) != itoa(users) {
		t.Errorf("$count = %d %q, want %d", status, b, users)
	}
	if status, _, _ := get(t, srv, tok, "/v1.0/groups/"+eng.ID+"/members/$count", nil); status != http.StatusBadRequest {
		t.Errorf("$count without ConsistencyLevel: %d, want 400", status)
	}
	if status, _ := getColl(t, srv, tok, "/v1.0/groups/"+eng.ID+"/transitiveMembers?$top=1000", nil); status != http.StatusBadRequest {
		t.Errorf("$top=1000: %d, want 400", status)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUsers_DefaultPropertiesOmitAccountEnabled(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{})
	tok := appToken(t, srv)
	_, c := getColl(t, srv, tok, "/v1.0/users?$top=1", nil)
	if len(c.Value) != 1 || c.Value[0]["userPrincipalName"] == nil {
		t.Fatalf("%+v", c)
	}
	if _, ok := c.Value[0]["accountEnabled"]; ok {
		t.Error("accountEnabled returned without $select, unlike Graph")
	}
}

func TestFilterAndSearch(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := start(t, tenant, graphtest.Options{})
	tok := appToken(t, srv)
	q := url.Values{"$filter": {"startswith(displayName,'sales') or startswith(mail,'zzz')"}}
	_, c := getColl(t, srv, tok, "/v1.0/groups?"+q.Encode(), nil)
	if len(c.Value) != 2 {
		t.Errorf("startswith(displayName,'sales') found %d groups, want 2", len(c.Value))
	}
	q = url.Values{"$filter": {"displayName eq 'O''Brien'"}}
	if status, _ := getColl(t, srv, tok, "/v1.0/users?"+q.Encode(), nil); status != http.StatusOK {
		t.Errorf("quoted literal: %d", status)
	}
	q = url.Values{"$filter": {"accountEnabled eq false"}, "$select": {"displayName"}}
	_, c = getColl(t, srv, tok, "/v1.0/users?"+q.Encode(), nil)
	if len(c.Value) != 1 || c.Value[0]["displayName"] != "Dana Whitfield" {
		t.Errorf("accountEnabled eq false: %+v", c.Value)
	}
	q = url.Values{"$search": {`"displayName:emea"`}, "$count": {"true"}}
	if status, _ := getColl(t, srv, tok, "/v1.0/groups?"+q.Encode(), nil); status != http.StatusBadRequest {
		t.Errorf("$search without ConsistencyLevel: %d, want 400", status)
	}
	status, c := getColl(t, srv, tok, "/v1.0/groups?"+q.Encode(), map[string]string{"ConsistencyLevel": "eventual"})
	if status != http.StatusOK || len(c.Value) != 1 || c.Count == nil || *c.Count != 1 || c.Value[0]["displayName"] != "Sales EMEA" {
		t.Errorf("$search emea: %d %+v", status, c)
	}
}

func TestGetByIDs_GzipBodyAndUnknownIDs(t *testing.T) {
	t.Parallel()
	tenant := graphtest.SampleTenant()
	srv := start(t, tenant, graphtest.Options{})
	tok := appToken(t, srv)
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	_ = json.NewEncoder(zw).Encode(map[string]any{"ids": []string{tenant.Users[0].ID, "deleted-id"}, "types": []string{"user"}})
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/v1.0/directoryObjects/getByIds", &body)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c collection
	_ = json.NewDecoder(resp.Body).Decode(&c)
	if resp.StatusCode != http.StatusOK || len(c.Value) != 1 || c.Value[0]["id"] != tenant.Users[0].ID || c.Value[0]["accountEnabled"] != true {
		t.Errorf("getByIds: %d %+v", resp.StatusCode, c)
	}
}

func TestFaults_ThrottleRevokeHangAndCount(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{})
	tok := appToken(t, srv)
	srv.ResetCounters()

	srv.AddFault(graphtest.Fault{Path: "/users", Skip: 1, Times: 1, Status: http.StatusTooManyRequests, RetryAfter: "7"})
	want := []int{200, 429, 200}
	for i, w := range want {
		status, h, _ := get(t, srv, tok, "/v1.0/users?$top=1", nil)
		if status != w {
			t.Errorf("request %d: %d, want %d", i, status, w)
		}
		if status == http.StatusTooManyRequests && h.Get("Retry-After") != "7" {
			t.Errorf("Retry-After = %q", h.Get("Retry-After"))
		}
	}
	if srv.Requests() != 3 || srv.Faulted() != 1 {
		t.Errorf("requests %d faulted %d, want 3 and 1", srv.Requests(), srv.Faulted())
	}
	srv.ClearFaults()

	srv.Revoke(graphtest.PermUserReadAll)
	status, c := getColl(t, srv, tok, "/v1.0/users", nil)
	if status != http.StatusForbidden || c.Error.Code != "Authorization_RequestDenied" || c.Error.Message != "Insufficient privileges to complete the operation." {
		t.Errorf("revoked: %d %+v", status, c.Error)
	}
	srv.Grant(graphtest.PermUserReadAll)

	srv.AddFault(graphtest.Fault{Path: "/groups", Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/v1.0/groups", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	if _, err := srv.Client().Do(req); err == nil {
		t.Error("a hanging page answered")
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the hang outlived the client's deadline")
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	srv := start(t, graphtest.SampleTenant(), graphtest.Options{Latency: 100 * time.Millisecond})
	tok := appToken(t, srv)
	start := time.Now()
	get(t, srv, tok, "/v1.0/users?$top=1", nil)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered in %s despite 100ms latency", d)
	}
}

func TestSampleTenant_IsDeterministicAndHasTheSpecialPeople(t *testing.T) {
	t.Parallel()
	a, b := graphtest.SampleTenant(), graphtest.SampleTenant()
	if len(a.Users) != 300 || a.Users[17] != b.Users[17] || a.Groups[3].ID != b.Groups[3].ID {
		t.Fatal("SampleTenant is not deterministic")
	}
	var disabled, guests, noMail int
	upns := map[string]bool{}
	for _, u := range a.Users {
		if !u.AccountEnabled {
			disabled++
		}
		if u.UserType == "Guest" {
			guests++
		}
		if u.Mail == "" {
			noMail++
		}
		if upns[strings.ToLower(u.UserPrincipalName)] {
			t.Errorf("duplicate UPN %s", u.UserPrincipalName)
		}
		upns[strings.ToLower(u.UserPrincipalName)] = true
	}
	if disabled != 1 || guests != 1 || noMail != 1 {
		t.Errorf("disabled %d guests %d without mail %d, want 1 each", disabled, guests, noMail)
	}
	for _, name := range []string{"Sales", "Marketing", "Engineering", "Platform Team"} {
		if a.GroupByName(name) == nil {
			t.Errorf("no group %s", name)
		}
	}
	if g := graphtest.Generate(10000); len(g.GroupByName(graphtest.LargeGroupName).Members) != 10000 {
		t.Error("Generate(10000) has no 10k-member group")
	}
}

// TestImportsStandardLibraryOnly keeps the package free of the Graph SDK
// (and of anything else that costs its users a long compile).
func TestImportsStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: graphtest must use the standard library only", f, path)
			}
		}
	}
}

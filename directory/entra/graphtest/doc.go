// Package graphtest is a Microsoft Graph and Microsoft Entra sign-in server
// on loopback HTTPS, for tests and for the demo tenant. It speaks the wire
// protocol the real msgraph-sdk-go and azidentity use — OpenID metadata,
// client credentials, the device-code flow, /v1.0/groups, /v1.0/users,
// transitiveMembers, getByIds, $select, $filter, $search, $count, $top,
// @odata.nextLink paging, and delta queries on /users/delta and
// /groups/delta ($deltatoken=latest, members@delta, @removed, 410 Gone for
// a token it no longer knows; see delta.go) — with net/http and
// encoding/json alone, so that packages which only need a tenant to talk
// to do not pay for compiling the SDK.
//
// It also injects what goes wrong in real tenants: throttling (429 with
// Retry-After), 503s, revoked permissions (403 Authorization_RequestDenied),
// pages that never arrive, connections dropped half-way, expired delta
// tokens, and latency; and it counts requests. Changes to the tenant
// (Update, or SetUserMail, SetAccountEnabled, AddMember, RemoveMember,
// DeleteUser, …) are what its delta queries report.
//
// It is not a Graph emulator beyond what usersync reads: no writes, no
// $expand, no $batch, and certificate assertions are accepted unverified.
//
//	srv, err := graphtest.Start(graphtest.SampleTenant(), graphtest.Options{ApproveAfter: 2 * time.Second})
//	defer srv.Close()
//	// authority_host = srv.AuthorityHost(), graph_endpoint = srv.GraphEndpoint(),
//	// ca_file = srv.CAFile(), tenant_id = srv.TenantID()
package graphtest

// Package entra reads users and groups from Microsoft Entra ID (Azure AD)
// for usersync, through Microsoft Graph with
// github.com/microsoftgraph/msgraph-sdk-go and
// github.com/Azure/azure-sdk-for-go/sdk/azidentity. It is
// the only package of usersync that imports the Graph SDK (it takes minutes
// and gigabytes to compile); the test server, package graphtest, does not.
//
// Open signs in — device code by default, which works over SSH; client
// secret or certificate for unattended use — with tokens kept in memory
// for the session only. The returned *Directory satisfies
// directory.Directory and directory.ChangeFeed (Graph delta queries on
// /users/delta and /groups/delta: see feed.go), and adds ListGroups (the
// wizard's group chooser, with member counts) and FindGroup
// (`--group NAME|ID`).
//
// Group members are read from transitiveMembers (nested groups flattened by
// Graph), with $select of the mapped properties only, 999 per page,
// following @odata.nextLink. Throttling (429, 503 with Retry-After) is
// waited out by the SDK's retry handler, bounded (Options.MaxRetryWait) and
// reported (Options.OnThrottle). A read cut short — a page that never
// arrived or still failed after the retries — is never reported as whole:
// it is an error wrapping directory.ErrIncomplete.
//
// Mapping of a Graph user to a directory.Entry: ExternalID is the object id;
// Name is the user principal name's prefix (see Username); Email is mail,
// else userPrincipalName; DN is the userPrincipalName; Disabled is
// !accountEnabled; Guest is userType == "Guest".
//
// Errors say what to do: a 401/403 names the missing Graph permission
// (User.Read.All, GroupMember.Read.All) and the tenant's admin-consent
// address (PermissionError); sign-in errors tell a declined or expired
// device code, a refused secret, an unknown tenant or app; transport errors
// tell TLS (set ca_file) from unreachable. It never writes to the tenant.
package entra

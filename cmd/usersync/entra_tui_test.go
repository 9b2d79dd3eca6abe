package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

// The Entra wizard end to end: the built binary in a tmux pane, signing in
// with the device-code flow through the real azidentity and msgraph-sdk-go
// against graphtest's sample tenant, then choosing a group, the summary,
// the import and the store afterwards.

// deviceCodeTenant serves the sample tenant, approving device codes by
// itself after approve, and configures e to sign in to it as "contoso"
// with a device code.
func deviceCodeTenant(t *testing.T, e *env, approve time.Duration, code string) *graphtest.Server {
	t.Helper()
	srv, err := graphtest.Start(graphtest.SampleTenant(), graphtest.Options{ApproveAfter: approve, UserCode: code, ClientID: graphtest.SampleClientID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.writeConfig(fmt.Sprintf(`[[entra]]
name = "contoso"
tenant_id = %q
client_id = %q
auth = "device-code"
authority_host = %q
graph_endpoint = %q
ca_file = %q
`, srv.TenantID(), graphtest.SampleClientID, srv.AuthorityHost(), srv.GraphEndpoint(), srv.CAFile()))
	return srv
}

// tuiUser is the part of the users list JSON the test reads.
type tuiUser struct {
	Username   string   `json:"username"`
	Email      string   `json:"email"`
	Kind       string   `json:"kind"`
	Source     string   `json:"source"`
	ExternalID string   `json:"external_id"`
	Enabled    bool     `json:"enabled"`
	Groups     []string `json:"groups"`
}

// folded joins a screen's words with single spaces: wrapped lines compare
// as one.
func folded(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestTUI_EntraDeviceCodeImportEndToEnd(t *testing.T) {
	e := newEnv(t)
	const code = "USYNCTUI7"
	srv := deviceCodeTenant(t, e, 3*time.Second, code)
	tn := srv.Tenant()
	sales := tn.GroupByName("Sales")
	matched := tn.User(sales.Members[0])
	disabled := tn.UserByUPN("dana.whitfield@contoso.com")
	// An internal user with a Sales member's email (another case): left
	// alone, since "Update previously imported users" stays unticked.
	e.ok("users", "add", "jdoe-internal", "--email", strings.ToUpper(matched.Mail), "--name", "Internal Person")

	m := startTerminal(t, e, 80, 24, "import")
	m.waitFor("Pick a directory", "contoso", "Entra")
	m.keys("Enter")
	// The sign-in screen: the verification address and the code, waiting.
	m.waitFor(srv.URL()+"/devicelogin", code, "Waiting for you to sign in", "Esc cancels the sign-in")
	// graphtest approves by itself, as a person signing in on a phone.
	m.waitFor("Signed in to contoso.", "10 groups in contoso", "Sales  (66 members)")

	m.keys("/")
	m.typeText("sales")
	m.waitFor(`Found 2 groups matching "sales"`, "Sales EMEA")
	m.keys("Enter", "Space")
	m.waitFor("1 selected", "[x] Add new users", "[ ] Update previously imported users")
	m.keys("Enter")
	m.waitFor("Roles for new users", "Viewer") // the roles are loaded
	// Viewer, the last role.
	m.keys("End", "Space", "Enter")
	s := folded(m.waitFor("Press Enter to import", "What will happen"))
	for _, want := range []string{
		"Groups Sales (66 members)",
		"Users 66 members: create 65 · update 0 · skip 1",
		"Groups create 1",
		"Roles for new users Viewer",
		"usersync import entra --tenant contoso --group Sales --add-new --roles Viewer --yes",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the summary lacks %q:\n%s", want, m.screen())
		}
	}
	// The why of the skip is below: the summary scrolls to it.
	m.keys("End")
	s = folded(m.waitFor("Updated, skipped and failed, and why"))
	if want := "skip " + entra.Username(matched.UserPrincipalName) + " — matches existing user jdoe-internal by email; updating not selected"; !strings.Contains(s, want) {
		t.Errorf("the summary does not say why %q:\n%s", want, m.screen())
	}

	m.keys("Enter")
	m.waitFor("Run 1: completed", "66 created")
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("q on the report: exit status %d\n%s", code, m.screen())
	}

	var users []tuiUser
	e.jsonOf(&users, "users", "list", "--json")
	bySource := map[string]int{}
	byName := map[string]tuiUser{}
	for _, u := range users {
		bySource[u.Source]++
		byName[u.Username] = u
	}
	if bySource["contoso"] != 65 {
		t.Errorf("%d users from contoso, want 65 (66 members, one left alone)", bySource["contoso"])
	}
	if u := byName["jdoe-internal"]; u.Kind != "internal" || u.Source != "" || u.ExternalID != "" {
		t.Errorf("the internal user matched by email was changed without Update: %+v", u)
	}
	if u, ok := byName[entra.Username(disabled.UserPrincipalName)]; !ok || u.Enabled || u.Kind != "external" || u.ExternalID != disabled.ID {
		t.Errorf("the account disabled in Entra: %+v (found %v)", u, ok)
	}
	first := tn.User(sales.Members[1])
	if u := byName[entra.Username(first.UserPrincipalName)]; !u.Enabled || u.Source != "contoso" || u.ExternalID != first.ID || !strings.EqualFold(u.Email, first.Mail) {
		t.Errorf("a new member: %+v", u)
	}
	var group struct {
		Name    string   `json:"name"`
		Kind    string   `json:"kind"`
		Source  string   `json:"source"`
		Members []string `json:"members"`
		Roles   []struct {
			Role, Scope string
		} `json:"roles"`
	}
	e.jsonOf(&group, "groups", "show", "Sales", "--json")
	if group.Kind != "external" || group.Source != "contoso" || len(group.Members) != 65 || len(group.Roles) != 1 || group.Roles[0].Role != "Viewer" {
		t.Errorf("group Sales = %+v", group)
	}
	var runs []struct {
		Command string `json:"command"`
		Status  string `json:"status"`
		Actor   string `json:"actor"`
	}
	e.jsonOf(&runs, "runs", "list", "--json")
	if len(runs) != 1 || runs[0].Status != "completed" || runs[0].Command != "usersync import entra --tenant contoso --group Sales --add-new --roles Viewer --yes" {
		raw, _ := json.Marshal(runs)
		t.Errorf("runs = %s", raw)
	}
}

func TestTUI_EntraEscCancelsTheSignIn(t *testing.T) {
	e := newEnv(t)
	srv := deviceCodeTenant(t, e, 0, "NEVERSIGN") // nobody approves
	m := startTerminal(t, e, 80, 24, "import")
	m.waitFor("Pick a directory", "contoso")
	m.keys("Enter")
	m.waitFor("NEVERSIGN")
	if n := len(srv.PendingUserCodes()); n != 1 {
		t.Fatalf("%d device codes pending", n)
	}
	m.keys("Escape")
	m.waitFor("Pick a directory")
	if s := m.screen(); strings.Contains(s, "NEVERSIGN") {
		t.Fatalf("the code is still shown after Esc:\n%s", s)
	}
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit status %d\n%s", code, m.screen())
	}
}

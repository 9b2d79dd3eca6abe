package demo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	ldapdemo "github.com/usersync/usersync/directory/demo"
	"github.com/usersync/usersync/directory/entra/graphtest"
	"github.com/usersync/usersync/store"
)

// The demo's fixed names and timings.
const (
	// LDAPName is the demo LDAP server's configured name.
	LDAPName = "dc01"
	// EntraName is the demo Entra tenant's configured name.
	EntraName = "contoso"
	// UserCode is the device code the demo tenant's sign-in shows, the
	// same in every recording.
	UserCode = "USRSYNC42"
	// ApproveAfter is how long the demo tenant waits before the
	// device-code sign-in completes by itself: long enough to be seen.
	ApproveAfter = 3 * time.Second
	// Latency is how long dc01 takes over every hundred entries it sends
	// (ldapdemo.Options.Latency): the handful of rows of a search such as
	// an* come at once, the 3000 members of the group Retail take about
	// a second and a half to read, as from a distant domain controller.
	Latency = 50 * time.Millisecond
)

// StoreOptions are how `usersync demo` opens its scratch store: batches of
// 100 entries with a pause of 200 ms before each, so that importing the
// group Retail (3000 members) takes about six seconds at some 500 entries
// a second — long enough to watch the progress view, its rate and ETA,
// and to cancel it — while the imports of a few entries still take a
// fifth of a second.
var StoreOptions = store.OpenOptions{BatchSize: 100, BatchPause: 200 * time.Millisecond}

// Directories are the running demo directories and the files that point
// at them, in a scratch directory.
type Directories struct {
	LDAP  *ldapdemo.LDAPServer
	Entra *graphtest.Server

	passwordFile string
	entraCA      string
}

// Start starts dc01 (with Latency) and contoso on loopback, with their CA
// files and dc01's bind password written (0600) into dir. Close stops them.
func Start(dir string) (*Directories, error) {
	d := &Directories{
		passwordFile: filepath.Join(dir, LDAPName+".password"),
		entraCA:      filepath.Join(dir, EntraName+"-ca.pem"),
	}
	var err error
	d.LDAP, err = ldapdemo.StartLDAP(ldapdemo.Options{CAFile: filepath.Join(dir, LDAPName+"-ca.pem"), Latency: Latency})
	if err != nil {
		return nil, fmt.Errorf("demo: start %s: %w", LDAPName, err)
	}
	d.Entra, err = graphtest.Start(graphtest.SampleTenant(), graphtest.Options{
		ClientID:     graphtest.SampleClientID,
		ApproveAfter: ApproveAfter,
		UserCode:     UserCode,
	})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: start %s: %w", EntraName, err)
	}
	err = errors.Join(
		os.WriteFile(d.passwordFile, []byte(d.LDAP.BindPassword()+"\n"), 0o600),
		os.WriteFile(d.entraCA, d.Entra.CAPEM(), 0o600),
	)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}

// Close stops the directories.
func (d *Directories) Close() {
	if d.Entra != nil {
		d.Entra.Close()
	}
	if d.LDAP != nil {
		_ = d.LDAP.Close()
	}
}

// Config is the demo's configuration file, with the keys of the product's
// contract.
func (d *Directories) Config() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Written by `usersync demo`. The directories below run inside that\n")
	w("# usersync process, on loopback, and stop when it exits.\n\n")
	w("[[ldap]]\n")
	w("name = %s\n", tomlString(LDAPName))
	w("url = %s\n", tomlString(d.LDAP.URL()))
	w("start_tls = %t\n", d.LDAP.StartTLS())
	w("base_dn = %s\n", tomlString(d.LDAP.Suffix()))
	w("bind_dn = %s\n", tomlString(d.LDAP.BindDN()))
	w("bind_password_file = %s\n", tomlString(d.passwordFile))
	w("ca_file = %s\n", tomlString(d.LDAP.CAFile()))
	w("flavor = \"openldap\"\n")
	w("page_size = 200\n")
	w("timeout = \"10s\"\n\n")
	w("[[entra]]\n")
	w("name = %s\n", tomlString(EntraName))
	w("tenant_id = %s\n", tomlString(d.Entra.TenantID()))
	w("client_id = %s\n", tomlString(graphtest.SampleClientID))
	w("auth = \"device-code\"\n")
	w("authority_host = %s\n", tomlString(d.Entra.AuthorityHost()))
	w("graph_endpoint = %s\n", tomlString(d.Entra.GraphEndpoint()))
	w("ca_file = %s\n", tomlString(d.entraCA))
	return b.String()
}

// tomlString writes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

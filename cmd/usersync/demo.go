package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/directory/demo"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

func init() { extraCommands = append(extraCommands, (*app).demoCommand) }

// The demo's fixed names and timings.
const (
	demoLDAPName  = "dc01"
	demoEntraName = "contoso"
	// demoUserCode is the device code the demo tenant's sign-in shows, the
	// same in every recording.
	demoUserCode = "USRSYNC42"
	// demoApproveAfter is how long the demo tenant waits before the
	// device-code sign-in completes by itself: long enough to be seen.
	demoApproveAfter = 3 * time.Second
)

// demoOptions are the flags of usersync demo.
type demoOptions struct {
	keep  bool
	serve bool
}

func (a *app) demoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Try usersync on sample directories and a scratch store, with nothing to set up",
		Long: `demo starts, inside this process and on loopback only, an LDAP server
named dc01 (OpenLDAP-like, StartTLS, a few hundred sample people and twenty
groups) and an Entra ID tenant named contoso (its device-code sign-in
completes by itself after a few seconds), writes a configuration naming them
into a scratch directory, seeds a scratch store there with roles, internal
users and one earlier import, and opens the Users app on it. It never
touches your own store or configuration: --store, --config and their
environment variables are ignored.

Press i and pick dc01, then search for an* to see every kind of row: a group
and a user to synchronize, users to import, a disabled account, and AAndrei,
blocked by the internal user aandrei.

Quitting stops the servers and removes the scratch directory, unless --keep
is given (its path is then printed on stderr; the servers stop all the same).

With --serve there is no TUI: the servers run and the scratch store waits
for other usersync commands until Ctrl+C or SIGTERM. stdout gets the lines
to export so that those commands use the demo:
  export USERSYNC_CONFIG='/tmp/usersync-demo-…/config.toml'
  export USERSYNC_STORE='/tmp/usersync-demo-…/usersync.db'`,
		Example: `  usersync demo
  usersync demo --serve > demo.env &   # then: . ./demo.env; usersync import ldap --server dc01 --query 'an*'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.runDemo(cmd, o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.keep, "keep", false, "keep the scratch store and configuration after exit, and print where they are")
	f.BoolVar(&o.serve, "serve", false, "no TUI: run the demo directories and print the environment for other usersync commands; stop with Ctrl+C")
	return cmd
}

// runDemo starts the demo directories, writes the scratch configuration and
// store, then opens the Users app (or waits, with --serve). Everything it
// started stops, and the scratch directory goes, when it returns.
func (a *app) runDemo(cmd *cobra.Command, o demoOptions) (err error) {
	// Closing the terminal (SIGHUP) must clean up as Ctrl+C does.
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	defer stop()
	cmd.SetContext(ctx)

	dir, err := os.MkdirTemp("", "usersync-demo-")
	if err != nil {
		return fmt.Errorf("demo: scratch directory: %w", err)
	}
	defer func() {
		a.close() // the store must be closed before its directory goes
		if o.keep {
			fmt.Fprintf(a.stderr, "usersync demo: the scratch store and configuration are kept in %s (the demo directories have stopped)\n", dir)
			return
		}
		if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
			err = fmt.Errorf("demo: remove the scratch directory: %w", rmErr)
		}
	}()

	env, err := startDemoDirectories(dir)
	if err != nil {
		return err
	}
	defer env.close()

	a.configPath = filepath.Join(dir, "config.toml")
	a.storePath = filepath.Join(dir, "usersync.db")
	a.cfg, a.st = nil, nil
	if err := os.WriteFile(a.configPath, []byte(env.config()), 0o600); err != nil {
		return fmt.Errorf("demo: write the configuration: %w", err)
	}
	if err := a.seedDemo(ctx); err != nil {
		return err
	}

	if !o.serve {
		return a.runTUI(cmd, startUsers)
	}
	a.close() // other usersync processes may use the store now
	fmt.Fprintf(a.stdout, "export USERSYNC_CONFIG=%s\nexport USERSYNC_STORE=%s\n", shellQuote(a.configPath), shellQuote(a.storePath))
	fmt.Fprintf(a.stderr, "usersync demo: %s at %s and %s at %s are up; the scratch store is %s.\nPress Ctrl+C to stop them.\n",
		demoLDAPName, env.ldap.URL(), demoEntraName, env.entra.GraphEndpoint(), a.storePath)
	<-ctx.Done()
	return nil
}

// seedDemo fills the scratch store, importing from dc01 through the
// configuration just written, as any other command would.
func (a *app) seedDemo(ctx context.Context) error {
	st, err := a.store()
	if err != nil {
		return err
	}
	d, err := a.openLDAP(ctx, demoLDAPName)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer d.Close()
	if err := demo.Seed(ctx, st, d); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// demoDirectories are the running demo servers and the files that point
// at them.
type demoDirectories struct {
	ldap         *demo.LDAPServer
	entra        *graphtest.Server
	passwordFile string
	entraCA      string
}

// startDemoDirectories starts dc01 and contoso, with their CA files and
// dc01's bind password in dir.
func startDemoDirectories(dir string) (*demoDirectories, error) {
	env := &demoDirectories{
		passwordFile: filepath.Join(dir, demoLDAPName+".password"),
		entraCA:      filepath.Join(dir, demoEntraName+"-ca.pem"),
	}
	var err error
	env.ldap, err = demo.StartLDAP(demo.Options{CAFile: filepath.Join(dir, demoLDAPName+"-ca.pem")})
	if err != nil {
		return nil, fmt.Errorf("demo: start %s: %w", demoLDAPName, err)
	}
	env.entra, err = graphtest.Start(graphtest.SampleTenant(), graphtest.Options{
		ClientID:     graphtest.SampleClientID,
		ApproveAfter: demoApproveAfter,
		UserCode:     demoUserCode,
	})
	if err != nil {
		env.close()
		return nil, fmt.Errorf("demo: start %s: %w", demoEntraName, err)
	}
	err = errors.Join(
		os.WriteFile(env.passwordFile, []byte(env.ldap.BindPassword()+"\n"), 0o600),
		os.WriteFile(env.entraCA, env.entra.CAPEM(), 0o644),
	)
	if err != nil {
		env.close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	return env, nil
}

func (env *demoDirectories) close() {
	if env.entra != nil {
		env.entra.Close()
	}
	if env.ldap != nil {
		_ = env.ldap.Close()
	}
}

// config is the demo's configuration file, with the keys of the product's
// contract.
func (env *demoDirectories) config() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Written by `usersync demo`. The directories below run inside that\n")
	w("# usersync process, on loopback, and stop when it exits.\n\n")
	w("[[ldap]]\n")
	w("name = %s\n", tomlString(demoLDAPName))
	w("url = %s\n", tomlString(env.ldap.URL()))
	w("start_tls = %t\n", env.ldap.StartTLS())
	w("base_dn = %s\n", tomlString(env.ldap.Suffix()))
	w("bind_dn = %s\n", tomlString(env.ldap.BindDN()))
	w("bind_password_file = %s\n", tomlString(env.passwordFile))
	w("ca_file = %s\n", tomlString(env.ldap.CAFile()))
	w("flavor = \"openldap\"\n")
	w("page_size = 200\n")
	w("timeout = \"10s\"\n\n")
	w("[[entra]]\n")
	w("name = %s\n", tomlString(demoEntraName))
	w("tenant_id = %s\n", tomlString(env.entra.TenantID()))
	w("client_id = %s\n", tomlString(graphtest.SampleClientID))
	w("auth = \"device-code\"\n")
	w("authority_host = %s\n", tomlString(env.entra.AuthorityHost()))
	w("graph_endpoint = %s\n", tomlString(env.entra.GraphEndpoint()))
	w("ca_file = %s\n", tomlString(env.entraCA))
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

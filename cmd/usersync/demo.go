package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/demo"
	"github.com/usersync/usersync/importer"
)

func init() { extraCommands = append(extraCommands, (*app).demoCommand) }

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
named dc01 (OpenLDAP-like, StartTLS, a few hundred sample people in twenty
groups, and the group Retail of 3000 store staff) and an Entra ID tenant
named contoso (its device-code sign-in completes by itself after a few
seconds), writes a configuration naming them into a scratch directory, seeds
a scratch store there with roles, internal users and one earlier import, and
opens the Users app on it. It never touches your own store or configuration:
--store, --config and their environment variables are ignored.

Press i and pick dc01, then search for an* to see every kind of row: a group
and a user to synchronize, users to import, a disabled account, and AAndrei,
blocked by the internal user aandrei. Search for Retail and import it to
watch an import run: dc01 answers at a distant server's pace and the scratch
store writes in small, paced batches, so it takes some seconds (Esc cancels
it between batches), and two of its members fail with the reason why.

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

	env, err := demo.Start(dir)
	if err != nil {
		return err
	}
	defer env.Close()

	a.configPath = filepath.Join(dir, "config.toml")
	a.storePath = filepath.Join(dir, "usersync.db")
	a.cfg, a.st = nil, nil
	paced := demo.StoreOptions // imports go at a pace one can watch
	a.storeOptions = &paced
	if err := os.WriteFile(a.configPath, []byte(env.Config()), 0o600); err != nil {
		return fmt.Errorf("demo: write the configuration: %w", err)
	}
	if err := a.seedDemo(ctx); err != nil {
		return err
	}

	if !o.serve {
		return a.runTUI(cmd, startUsers)
	}
	a.close() // other usersync processes may use the store now
	fmt.Fprintf(a.stdout, "export USERSYNC_CONFIG=%s\nexport USERSYNC_STORE=%s\n", importer.ShellQuote(a.configPath), importer.ShellQuote(a.storePath))
	fmt.Fprintf(a.stderr, "usersync demo: %s at %s and %s at %s are up; the scratch store is %s.\nPress Ctrl+C to stop them.\n",
		demo.LDAPName, env.LDAP.URL(), demo.EntraName, env.Entra.GraphEndpoint(), a.storePath)
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
	d, err := a.openLDAP(ctx, demo.LDAPName)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer d.Close()
	if err := demo.Seed(ctx, st, d); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

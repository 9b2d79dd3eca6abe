package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/tui/serve"
)

func init() { extraCommands = append(extraCommands, (*app).serveCommand) }

// serveOptions are the flags of "serve".
type serveOptions struct {
	listen, hostKey, authorizedKeys string
	idle                            time.Duration
	maxSessions                     int
}

func (a *app) serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR --host-key FILE --authorized-keys FILE",
		Short: "Serve the Users app and the import wizard over SSH",
		Long: `Serve usersync's terminal interface over SSH, so that admins and helpdesk
staff can import and synchronize without a shell on this host. Each
connection gets its own Users app, sized to its terminal; all of them share
the one store this process opens.

Only public keys in the authorized-keys file get in (OpenSSH format; password
and keyboard-interactive authentication are refused). A key acts as the name
in its usersync-user="NAME" option, else its comment: runs journal that name
as their actor. A key with the usersync-readonly option may browse but not
import or synchronize:

  ssh-ed25519 AAAA... alice
  usersync-user="helpdesk",usersync-readonly ssh-ed25519 AAAA... viewer

The file is read again at every sign-in. The host key is created (ed25519,
mode 0600) when missing. A session that disconnects in the middle of an
import stops it between batches: the run is journaled as interrupted, and
running the same import again finishes it.`,
		Example: `  usersync serve --listen 127.0.0.1:2222 --host-key /var/lib/usersync/ssh_host_ed25519 --authorized-keys /etc/usersync/authorized_keys
  ssh -t -p 2222 127.0.0.1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.serve(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:2222", "the address to listen on")
	f.StringVar(&o.hostKey, "host-key", "", "the server's private host key (created when missing; default next to the store)")
	f.StringVar(&o.authorizedKeys, "authorized-keys", "", "the OpenSSH authorized-keys file of who may connect (required)")
	f.DurationVar(&o.idle, "idle-timeout", 30*time.Minute, "end a session after this long without activity")
	f.IntVar(&o.maxSessions, "max-sessions", 10, "the most sessions at once; the next one is told why and disconnected")
	return cmd
}

func (a *app) serve(cmd *cobra.Command, o serveOptions) error {
	if o.authorizedKeys == "" {
		return usageErrorf("--authorized-keys is required: the OpenSSH authorized-keys file of who may connect")
	}
	if o.maxSessions < 1 || o.idle <= 0 {
		return usageErrorf("--max-sessions and --idle-timeout must be positive")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	st, err := a.store()
	if err != nil {
		return err
	}
	if o.hostKey == "" {
		o.hostKey = filepath.Join(filepath.Dir(st.Path()), "ssh_host_ed25519")
	}
	srv, err := serve.Start(serve.Options{
		Listen: o.listen, HostKey: o.hostKey, AuthorizedKeys: o.authorizedKeys,
		IdleTimeout: o.idle, MaxSessions: o.maxSessions,
		App: a.tuiConfig(st, cfg),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "usersync serve: listening on %s (ssh -t -p PORT HOST); Ctrl+C stops\n", srv.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-cmd.Context().Done():
	}
	return srv.Close()
}

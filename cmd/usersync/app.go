package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
)

// app holds what the commands share: the streams, the global flags, and the
// store and config, opened on first use.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	storePath  string
	configPath string

	st  *store.Store
	cfg *Config
	// storeOptions open the store to write (nil: the defaults; the demo's
	// scratch store is paced, demo.StoreOptions).
	storeOptions *store.OpenOptions
	// scratch is the directory of the empty store a read command reads
	// when there is no store yet (removed on close).
	scratch string
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "usersync",
		Short: "Import users and groups from LDAP and Entra ID, and keep them in step",
		Long: `usersync brings users and user groups from LDAP directories (OpenLDAP,
Active Directory, FreeIPA) and Microsoft Entra ID into the application's user
store, and keeps them synchronized.

Without a command it opens the Users app; 'usersync import' opens the import
wizard. Every wizard has a scripted twin: a command that changes the store
prints its plan and changes nothing unless --yes is given.`,
		Example: `  usersync users list --json | jq -r '.[].username'`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runTUI(cmd, startUsers)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.storePath, "store", "", "the store `PATH` (env USERSYNC_STORE; default $XDG_DATA_HOME/usersync/usersync.db)")
	pf.StringVar(&a.configPath, "config", "", "the configuration file's `PATH` (env USERSYNC_CONFIG; default $XDG_CONFIG_HOME/usersync/config.toml)")

	root.AddCommand(
		a.usersCommand(),
		a.groupsCommand(),
		a.rolesCommand(),
		a.runsCommand(),
		a.directoriesCommand(),
		a.importCommand(),
		a.syncCommand(),
		a.versionCommand(),
	)
	for _, c := range extraCommands {
		root.AddCommand(c(a))
	}
	return root
}

// extraCommands are added by files that build optional commands.
var extraCommands []func(*app) *cobra.Command

// resolvedStorePath is --store, else $USERSYNC_STORE, else the XDG default.
func (a *app) resolvedStorePath() (string, error) {
	if a.storePath != "" {
		return a.storePath, nil
	}
	if p := os.Getenv("USERSYNC_STORE"); p != "" {
		return p, nil
	}
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no store path: set --store or USERSYNC_STORE (%v)", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "usersync", "usersync.db"), nil
}

// store opens the store to write on first use (reopening it if a read
// command opened it read-only).
func (a *app) store() (*store.Store, error) {
	if a.st != nil && !a.st.ReadOnly() {
		return a.st, nil
	}
	a.close()
	path, err := a.resolvedStorePath()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(path, a.storeOptions)
	if err != nil {
		return nil, storeOpenError(path, err)
	}
	a.st = st
	return st, nil
}

// storeRO opens the store read-only on first use, for commands that only
// read: it shares the file with other readers, never changes its bytes,
// and reads a file the user may not write. A store that does not exist
// yet (or is an empty file) is not created: the command reads a new, empty
// store made in a scratch directory (removed on close), so that a first
// 'users list' or 'roles list' shows what a new store holds (its default
// roles), and says on stderr that there is no store yet.
func (a *app) storeRO() (*store.Store, error) {
	if a.st != nil {
		return a.st, nil
	}
	path, err := a.resolvedStorePath()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode().IsRegular() && fi.Size() == 0) {
		dir, err := os.MkdirTemp("", "usersync-empty-")
		if err != nil {
			return nil, err
		}
		st, err := store.Open(filepath.Join(dir, "usersync.db"), nil)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		fmt.Fprintf(a.stderr, "No store yet at %s: nothing has been imported. Import with 'usersync import', or try 'usersync demo'.\n", path)
		a.st, a.scratch = st, dir
		return st, nil
	}
	st, err := store.Open(path, &store.OpenOptions{ReadOnly: true})
	if err != nil {
		return nil, storeOpenError(path, err)
	}
	a.st = st
	return st, nil
}

// storeOpenError says what to do about a store that cannot be opened.
func storeOpenError(path string, err error) error {
	switch {
	case errors.Is(err, store.ErrCorrupt):
		return err // it names the file and says what to do
	case errors.Is(err, store.ErrInUse):
		return fmt.Errorf("%w\nAnother usersync (a TUI, a sync from cron, or 'usersync serve') has %s open; wait for it to finish, or pass --store to use another file", err, path)
	case errors.Is(err, store.ErrNotStore):
		return fmt.Errorf("%w\nCheck --store / USERSYNC_STORE: %s is some other file", err, path)
	case errors.Is(err, store.ErrNewerSchema):
		return fmt.Errorf("%w\nThis store was written by a newer usersync; upgrade usersync to open it", err)
	}
	return fmt.Errorf("open store %s: %w", path, err)
}

func (a *app) close() {
	if a.st != nil {
		a.st.Close()
		a.st = nil
	}
	if a.scratch != "" {
		os.RemoveAll(a.scratch)
		a.scratch = ""
	}
}

// actor names who runs a command, for the journal.
func actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return "unknown"
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
)

func init() { extraCommands = append(extraCommands, (*app).storeCommand) }

// storeCommand builds "usersync store": check the store file for damage,
// and back it up.
func (a *app) storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Check the store file for damage, and back it up",
		Long: `The store is one file (--store, USERSYNC_STORE, or under $XDG_DATA_HOME).
'store check' verifies all of it; 'store backup FILE' writes a checked copy.

To restore a backup: stop whatever uses the store (the TUI, 'usersync serve',
a sync from cron), check the copy with 'usersync --store FILE store check',
then copy it over the store file.`,
		Args: noArgs,
	}
	cmd.AddCommand(a.storeCheckCommand(), a.storeBackupCommand())
	return cmd
}

// storeCheckJSON is what 'store check --json' prints.
type storeCheckJSON struct {
	File     string   `json:"file"`
	OK       bool     `json:"ok"`
	Schema   int      `json:"schema"`
	Users    int      `json:"users"`
	Groups   int      `json:"groups"`
	Roles    int      `json:"roles"`
	Runs     int      `json:"runs"`
	Problems []string `json:"problems"`
}

func (a *app) storeCheckCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the whole store file: pages, checksums and consistency",
		Long: `check reads every page and every record of the store: the page structure
(as bbolt's own check does, without trusting the pages), the checksum of every
record, and the store's rules (indexes, memberships, counts, the journal).
It only reads, and may run beside other commands that only read.

It exits 0 when the store is sound, and 1 when it is damaged (the problems are
listed on stdout) or cannot be checked. A damaged store is never written to:
restore it from a backup (see 'usersync store --help').`,
		Example: "  usersync store check --json | jq .problems",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := a.existingStorePath("check")
			if err != nil {
				return err
			}
			start := time.Now()
			rep, err := store.VerifyFile(path, nil)
			if err != nil {
				return storeOpenError(path, err)
			}
			if asJSON {
				out := storeCheckJSON{File: rep.File, OK: rep.OK(), Schema: rep.Schema, Users: rep.Users,
					Groups: rep.Groups, Roles: rep.Roles, Runs: rep.Runs, Problems: rep.Problems}
				if out.Problems == nil {
					out.Problems = []string{}
				}
				if err := writeJSON(a.stdout, out); err != nil {
					return err
				}
			} else if rep.OK() {
				fmt.Fprintf(a.stdout, "%s is sound: schema %d, %d users, %d groups, %d roles, %d runs (checked in %.1fs)\n",
					rep.File, rep.Schema, rep.Users, rep.Groups, rep.Roles, rep.Runs, time.Since(start).Seconds())
				if rep.Schema < store.SchemaVersion {
					fmt.Fprintf(a.stdout, "Its records carry no checksums yet: the next command that writes upgrades it to schema %d.\n", store.SchemaVersion)
				}
			} else {
				fmt.Fprintf(a.stdout, "%s is damaged:\n", rep.File)
				for _, p := range rep.Problems {
					fmt.Fprintf(a.stdout, "  %s\n", p)
				}
			}
			if !rep.OK() {
				return &exitError{code: exitFailure, err: rep.Err()}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was found as JSON on stdout")
	return cmd
}

func (a *app) storeBackupCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent, checked copy of the store to FILE",
		Long: `backup copies the store as of one moment, readable only by you (mode 0600).
The copy is checked as 'usersync store check' checks a store before it takes
the name FILE, so FILE never holds a partial or damaged copy. A damaged store
is not copied. An existing FILE is never replaced unless --force is given.

backup only reads the store: it may run beside other commands that only read.`,
		Example: "  usersync store backup ~/usersync-$(date +%F).db",
		Args:    exactArgs(1, "one FILE to write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.existingStorePath("back up"); err != nil {
				return err
			}
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			n, err := st.Backup(args[0], force)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Backed up %s to %s (%d bytes, checked sound)\n", st.Path(), args[0], n)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists (only once the new copy checked sound)")
	return cmd
}

// existingStorePath is the store's path, or an error saying there is no
// store to act on (what: "check", "back up").
func (a *app) existingStorePath(what string) (string, error) {
	path, err := a.resolvedStorePath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no store at %s: nothing to %s (pass --store or set USERSYNC_STORE to pick the file)", path, what)
	} else if err != nil {
		return "", fmt.Errorf("store %s: %w", path, err)
	}
	return path, nil
}

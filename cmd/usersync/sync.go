package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

func (a *app) syncCommand() *cobra.Command {
	var o importer.Sync
	var out output
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "sync [GROUP ...] | --all",
		Short: "Synchronize imported groups with their directories",
		Long: `Re-read imported groups from their directories: new members are added (enabled
or not as the group's import chose), changed members updated, departed members
removed from the group, and members disabled or deleted in the directory are
disabled. Role assignments are never changed. When a read is incomplete
(timeout, size limit, dropped connection, unfinished range, missing page)
nothing is removed or disabled, the run's status is "incomplete" and the exit
code 4. A group whose sync would remove or disable more than 10% of its
members (or 500 users, whichever is smaller) is left as it is and reported as
failed unless --force is given.

A group that holds a change-feed cookie from its last complete read is read
incrementally when its directory offers a feed (OpenLDAP syncprov): only what
changed since. --full reads everything; without --yes it is the drift audit.

--watch keeps running, for a service. On an LDAP server with syncprov it keeps
a persistent sync search open (refreshAndPersist) and applies changes as they
come, gathering those that follow closely (at most 200ms) into one run; elsewhere (Active
Directory, Entra ID, LDAP without syncprov) it reads the changes every
--interval. One run per batch that changed something; nothing is journaled
otherwise. The store is held only while a batch is applied: the directory is
read with the store closed, so other usersync commands go on working (a TUI
holds the store while it is open: the watch then waits to apply). A lost
directory is retried with a growing pause, removing nothing meanwhile.
SIGTERM or Ctrl+C stops it between batches (exit 0).

Without --yes it prints the plan and changes nothing. With --json, one run
object is printed per directory synchronized (JSON Lines).`,
		Example: `  usersync sync --all --yes --json >> /var/log/usersync.jsonl   # from cron`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Groups = args
			if err := o.Check(); err != nil {
				return usageErrorf("%v", err)
			}
			if watch {
				if interval <= 0 {
					return usageErrorf("--interval must be positive (e.g. 30s)")
				}
				out.yes = true // a watch applies: it is a service, not a plan
				return a.watch(cmd.Context(), &o, out, importer.CommandLine(os.Args[1:]), interval)
			}
			return a.sync(cmd.Context(), &o, out, importer.CommandLine(os.Args[1:]))
		},
	}
	o.Flags(cmd.Flags())
	out.flags(cmd, "changes")
	cmd.Flags().BoolVar(&watch, "watch", false, "keep running: apply the changes as they come (LDAP with syncprov) or every --interval, until SIGTERM or Ctrl+C (implies --yes)")
	cmd.Flags().DurationVar(&interval, "interval", 30*time.Second, "with --watch, the pause between two reads of the changes of a directory that cannot tell them as they come")
	cmd.ValidArgsFunction = a.completeGroups
	return cmd
}

func (a *app) sync(ctx context.Context, o *importer.Sync, out output, command string) error {
	st, err := a.store()
	if err != nil {
		return err
	}
	var groups []store.Group
	if o.All {
		all, err := st.ListGroupsBrief()
		if err != nil {
			return err
		}
		for _, g := range all {
			if g.Kind == store.External {
				groups = append(groups, g)
			}
		}
		if len(groups) == 0 {
			fmt.Fprintln(a.stderr, "No imported groups to synchronize.")
			return nil
		}
	}
	for _, name := range o.Groups {
		g, err := st.GetGroup(name)
		if errors.Is(err, store.ErrNotFound) {
			return usageErrorf("no group %q; see 'usersync groups list'", name)
		} else if err != nil {
			return err
		}
		if g.Kind != store.External {
			return usageErrorf("group %q is an internal group: there is no directory to synchronize it from", g.Name)
		}
		groups = append(groups, g)
	}

	// One run per directory, in a stable order.
	bySource := map[string][]store.Group{}
	var sources []string
	for _, g := range groups {
		if _, ok := bySource[g.Source]; !ok {
			sources = append(sources, g.Source)
		}
		bySource[g.Source] = append(bySource[g.Source], g)
	}
	sort.Strings(sources)
	var worst error
	for _, source := range sources {
		err := a.syncSource(ctx, st, o, source, bySource[source], out, command)
		if worse(err, worst) {
			worst = err
		}
	}
	return worst
}

// worse reports whether err should replace the exit of worst: a failure
// (1) over an incomplete read (4) over per-entry errors (3) over success.
func worse(err, worst error) bool {
	rank := func(e error) int {
		switch exitCode(e) {
		case exitOK:
			return 0
		case exitEntryError:
			return 1
		case exitIncomplete:
			return 2
		}
		return 3
	}
	return rank(err) > rank(worst)
}

// syncSource synchronizes the groups of one directory as one run.
func (a *app) syncSource(ctx context.Context, st *store.Store, o *importer.Sync, source string, groups []store.Group, out output, command string) error {
	env := a.env(st)
	dir, err := a.openDirectory(ctx, source)
	if err != nil {
		res, err := o.Unreachable(env, source, command, fmt.Errorf("synchronize from %s: %w", source, err), out.yes)
		if res == nil {
			return fmt.Errorf("%w\nNothing was changed.", err)
		}
		return a.report(res, err, out)
	}
	defer dir.Close()
	res, err := o.Run(ctx, env, dir, groups, command, out.yes)
	if res == nil && err != nil {
		return fmt.Errorf("%w\nNothing was changed.", err)
	}
	return a.report(res, err, out)
}

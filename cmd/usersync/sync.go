package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
)

func (a *app) syncCommand() *cobra.Command {
	var all, yes, force, asJSON bool
	cmd := &cobra.Command{
		Use:   "sync [GROUP ...] | --all",
		Short: "Synchronize imported groups with their directories",
		Long: `Re-read imported groups from their directories: new members are added,
changed members updated, departed members removed from the group, and members
disabled or deleted in the directory are disabled. Role assignments are never
changed. When a read is incomplete (timeout, size limit, dropped connection,
unfinished range, missing page) nothing is removed or disabled. A sync that
would remove or disable more than 10% of a group (or 500 users, whichever is
smaller) stops unless --force is given.

Without --yes it prints the plan and changes nothing. With --json, one run
object is printed per directory synchronized (JSON lines).`,
		Example: `  usersync sync --all --yes --json   # from cron`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageErrorf("name the groups to synchronize, or pass --all (not both)")
			}
			return a.sync(cmd.Context(), args, yes, force, asJSON, commandLine(os.Args[1:]))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "synchronize every imported group")
	f.BoolVar(&yes, "yes", false, "apply the changes (without it, only print the plan)")
	f.BoolVar(&force, "force", false, "apply even when more than the threshold would be removed or disabled")
	f.BoolVar(&asJSON, "json", false, "print the run(s) as JSON on stdout")
	return cmd
}

func (a *app) sync(ctx context.Context, names []string, yes, force, asJSON bool, command string) error {
	st, err := a.store()
	if err != nil {
		return err
	}
	var groups []store.Group
	if len(names) == 0 {
		all, err := st.ListGroups()
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
	for _, name := range names {
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
	var firstErr error
	for _, source := range sources {
		err := a.syncSource(ctx, st, source, bySource[source], yes, force, asJSON, command)
		if err != nil && (firstErr == nil || exitCode(firstErr) == exitEntryError) {
			firstErr = err
		}
	}
	return firstErr
}

// syncSource synchronizes the groups of one directory as one run.
func (a *app) syncSource(ctx context.Context, st *store.Store, source string, groups []store.Group, yes, force, asJSON bool, command string) error {
	in := store.Input{
		Source: source, Actor: actor(), Command: command,
		Options: store.Options{AddNew: true, UpdateExisting: true, Force: force},
	}
	dir, err := a.openDirectory(ctx, source)
	if err != nil {
		return a.failRun(st, in, fmt.Errorf("synchronize from %s: %w", source, err), yes, asJSON)
	}
	defer dir.Close()
	in.Options = store.SyncOptions(dir.Kind())
	in.Options.Force = force
	for _, g := range groups {
		gi, err := st.ReadGroup(ctx, dir, g.ExternalID)
		if err != nil {
			return a.failRun(st, in, fmt.Errorf("synchronize group %q: %w", g.Name, err), yes, asJSON)
		}
		in.Groups = append(in.Groups, gi)
	}
	return a.planOrApply(ctx, st, in, yes, asJSON)
}

// failRun journals a sync that could not read its directory (when applying)
// and reports it: nothing was changed, nothing removed.
func (a *app) failRun(st *store.Store, in store.Input, cause error, yes, asJSON bool) error {
	if !yes {
		return fmt.Errorf("%w\nNothing was changed.", cause)
	}
	run, err := st.Fail(in, cause)
	if err != nil {
		return errors.Join(cause, err)
	}
	if err := a.printRunResult(run, asJSON); err != nil {
		return err
	}
	return fmt.Errorf("run %d failed: %w\nNothing was changed.", run.ID, cause)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

func (a *app) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Open the import wizard; 'import ldap' and 'import entra' are its scripted twins",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runTUI(cmd, startImport)
		},
	}
	cmd.AddCommand(a.importLDAPCommand(), a.importEntraCommand())
	return cmd
}

// importLDAPOptions are the flags of "import ldap".
type importLDAPOptions struct {
	server, query, sel, roles, copyFrom string
	enable, yes, asJSON                 bool
}

func (a *app) importLDAPCommand() *cobra.Command {
	var o importLDAPOptions
	cmd := &cobra.Command{
		Use:   "ldap --server NAME --query TEXT",
		Short: "Import users and groups found by an LDAP search",
		Long: `Search an LDAP server and import what was found, with the same rules as the
import wizard. Without --yes it prints what each entry would get and changes
nothing; with --yes it applies and prints the run (see 'usersync runs show').

--query is a username or group name with * wildcards (escaped: it can never
change the filter), or a raw LDAP filter when it starts with "(".`,
		Example: `  usersync import ldap --server dc01 --query 'an*' --select all --roles Viewer,Editor@project-x --enable --yes`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.importLDAP(cmd.Context(), o, commandLine(os.Args[1:]))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "the configured LDAP server to search (see 'usersync directories list')")
	f.StringVar(&o.query, "query", "", "what to search for: text with * wildcards, or a raw filter starting with (")
	f.StringVar(&o.sel, "select", "all", "which results to import: all, or a comma-separated list of names")
	f.StringVar(&o.roles, "roles", "", "roles for new entries, as ROLE or ROLE@SCOPE, comma-separated")
	f.BoolVar(&o.enable, "enable", false, "enable users after import (otherwise new users are created disabled)")
	f.StringVar(&o.copyFrom, "copy-roles-from", "", "also give new entries the roles and assignments of this user")
	f.BoolVar(&o.yes, "yes", false, "apply the import (without it, only print the plan)")
	f.BoolVar(&o.asJSON, "json", false, "print the run as JSON on stdout")
	return cmd
}

func (a *app) importLDAP(ctx context.Context, o importLDAPOptions, command string) error {
	if o.server == "" {
		return usageErrorf("--server is required: the name of a configured LDAP server (see 'usersync directories list')")
	}
	if strings.TrimSpace(o.query) == "" {
		return usageErrorf("--query is required: a name with * wildcards, or a raw LDAP filter")
	}
	roles, err := parseAssignments(o.roles)
	if err != nil {
		return err
	}
	st, err := a.store()
	if err != nil {
		return err
	}
	dir, err := a.openLDAP(ctx, o.server)
	if err != nil {
		return err
	}
	defer dir.Close()

	in := store.Input{
		Source:  dir.Name(),
		Actor:   actor(),
		Command: command,
		Options: store.Options{
			Enable: o.enable, Roles: roles, CopyRolesFrom: o.copyFrom,
			AddNew: true, UpdateExisting: true,
		},
	}
	if o.yes && selectsAll(o.sel) {
		// Applying everything found: users are written while the search
		// still streams (the store's writes overlap the directory's read);
		// groups are read whole once it ends. One run all the same.
		run, err := st.ApplyStream(ctx, in,
			func(yield func(directory.Entry) error) error { return dir.Search(ctx, o.query, yield) },
			func(ctx context.Context, g directory.Entry) (store.GroupInput, error) {
				return st.ReadGroup(ctx, dir, g.ExternalID)
			},
			a.progressPrinter())
		if run == nil {
			return fmt.Errorf("search %s for %q: %w", dir.Name(), o.query, err)
		}
		return a.reportRun(run, err, o.asJSON)
	}

	var found []directory.Entry
	err = dir.Search(ctx, o.query, func(e directory.Entry) error {
		found = append(found, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("search %s for %q: %w", dir.Name(), o.query, err)
	}
	selected, err := selectEntries(found, o.sel)
	if err != nil {
		return err
	}
	for _, e := range selected {
		if e.Type == directory.TypeUser {
			in.Users = append(in.Users, e)
			continue
		}
		g, err := st.ReadGroup(ctx, dir, e.ExternalID)
		if err != nil {
			return err
		}
		in.Groups = append(in.Groups, g)
	}
	return a.planOrApply(ctx, st, in, o.yes, o.asJSON)
}

// selectsAll reports whether --select takes every result.
func selectsAll(sel string) bool {
	return strings.TrimSpace(sel) == "" || strings.EqualFold(strings.TrimSpace(sel), "all")
}

// selectEntries picks the search results --select names: "all" takes every
// result (the rules skip the blocked ones and say why); names are matched
// ignoring case.
func selectEntries(found []directory.Entry, sel string) ([]directory.Entry, error) {
	if selectsAll(sel) {
		// Blocked rows go to the store too: its rules skip them, and the run
		// says why each was skipped.
		return found, nil
	}
	byName := map[string][]directory.Entry{}
	for _, e := range found {
		k := store.Fold(e.Name)
		byName[k] = append(byName[k], e)
	}
	var out []directory.Entry
	var missing []string
	for _, name := range strings.Split(sel, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		es, ok := byName[store.Fold(name)]
		if !ok {
			missing = append(missing, name)
			continue
		}
		out = append(out, es...)
	}
	if len(missing) > 0 {
		return nil, usageErrorf("--select names %s, which the search did not find (%d result(s))", strings.Join(missing, ", "), len(found))
	}
	return out, nil
}

// planOrApply prints the plan of in, or applies it with --yes, and turns the
// outcome into the exit code.
func (a *app) planOrApply(ctx context.Context, st *store.Store, in store.Input, yes, asJSON bool) error {
	var run *store.Run
	var err error
	if !yes {
		run, err = st.Plan(ctx, in)
	} else {
		run, err = st.Apply(ctx, in, a.progressPrinter())
	}
	if err != nil && run == nil {
		if errors.Is(err, store.ErrThreshold) {
			return fmt.Errorf("%w\nNothing was changed.", err)
		}
		return err
	}
	return a.reportRun(run, err, asJSON)
}

// reportRun prints a run (planned or applied) and turns its outcome, and
// the error that came with it, into the exit code.
func (a *app) reportRun(run *store.Run, err error, asJSON bool) error {
	if perr := a.printRunResult(run, asJSON); perr != nil {
		return perr
	}
	switch {
	case run.Status == store.RunInterrupted:
		return fmt.Errorf("run %d interrupted: the batches already written stay; run the same command again to finish", run.ID)
	case run.Status == store.RunFailed:
		return fmt.Errorf("run %d failed: %s", run.ID, run.Error)
	case err != nil:
		return err
	case run.Counts.Failed > 0:
		return errEntryErrors
	}
	return nil
}

func (a *app) printRunResult(run *store.Run, asJSON bool) error {
	if asJSON {
		return writeJSON(a.stdout, toRunJSON(run))
	}
	return printRun(a.stdout, run)
}

// progressPrinter shows an apply's progress on stderr when it is a terminal.
func (a *app) progressPrinter() func(store.Progress) {
	f, ok := a.stderr.(term.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return nil
	}
	return func(p store.Progress) {
		fmt.Fprintf(a.stderr, "\r%d/%d  created %d  updated %d  skipped %d  failed %d ", p.Done, p.Total,
			p.Counts.Created, p.Counts.Updated, p.Counts.Skipped, p.Counts.Failed)
		if p.Done == p.Total {
			fmt.Fprintln(a.stderr)
		}
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/usersync/usersync/importer"
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

// output are the flags that say how a command reports, not what it does.
type output struct {
	yes, asJSON bool
}

func (o *output) flags(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVar(&o.yes, "yes", false, "apply the "+what+" (without it, only print the plan)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the run as JSON on stdout (one object per line)")
}

func (a *app) importLDAPCommand() *cobra.Command {
	var o importer.LDAP
	var out output
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
			return a.importLDAP(cmd.Context(), &o, out)
		},
	}
	o.Flags(cmd.Flags())
	out.flags(cmd, "import")
	_ = cmd.RegisterFlagCompletionFunc("server", a.completeDirectories("ldap"))
	return cmd
}

func (a *app) importLDAP(ctx context.Context, o *importer.LDAP, out output) error {
	if err := o.Check(); err != nil {
		return usageErrorf("%v", err)
	}
	st, err := a.store()
	if err != nil {
		return err
	}
	dir, err := a.openLDAP(ctx, o.Server)
	if err != nil {
		return err
	}
	defer dir.Close()
	res, err := o.Run(ctx, a.env(st), dir, out.yes)
	return a.report(res, err, out)
}

// env is who runs a request from this command line, and its progress.
func (a *app) env(st *store.Store) importer.Env {
	return importer.Env{Store: st, Actor: actor(), Progress: a.progressPrinter()}
}

// report prints an outcome (planned or applied: the warnings on stderr,
// the run on stdout) and turns it, and the error that came with it, into
// the exit code. An outcome without a run (a watch's quiet round) prints
// nothing.
func (a *app) report(res *importer.Outcome, err error, out output) error {
	if res == nil || res.Run == nil {
		if errors.Is(err, importer.ErrUsage) {
			return usageErrorf("%s", strings.TrimPrefix(err.Error(), importer.ErrUsage.Error()+": "))
		}
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.stderr, "warning: "+w)
	}
	if perr := a.printRunResult(res.Run, out.asJSON); perr != nil {
		return perr
	}
	return runExit(res.Run, err)
}

// runExit is the exit of a command that printed run: 4 when a directory
// read was incomplete (it takes precedence), 3 for per-entry errors, 1 for
// a failed or interrupted run.
func runExit(run *store.Run, err error) error {
	switch {
	case run.Status == store.RunInterrupted:
		return fmt.Errorf("run %d interrupted: the batches already written stay; run the same command again to finish", run.ID)
	case run.Status == store.RunFailed:
		if err != nil && len(run.Entries) == 0 {
			return fmt.Errorf("%w\nNothing was changed.", err)
		} else if err != nil {
			return fmt.Errorf("%w\nThe batches already written stay; run the same command again to complete it.", err)
		}
		return fmt.Errorf("run %d failed: %s", run.ID, run.Error)
	case err != nil:
		return err
	case run.ReadIncomplete:
		return errIncomplete
	case run.OverThreshold():
		return &exitError{code: exitEntryError, err: fmt.Errorf("%s\nNobody was removed or disabled in those groups.", run.Error)}
	case run.Counts.Failed > 0:
		return errEntryErrors
	}
	return nil
}

func (a *app) printRunResult(run *store.Run, asJSON bool) error {
	if run.Trimmed && a.st != nil && (asJSON || run.Counts.Total() <= reportListAll) {
		// A streamed import kept only the entries that need attention in
		// memory: the JSON has them all, from the journal.
		full, err := a.st.GetRun(run.ID)
		if err != nil {
			return err
		}
		full.ReadIncomplete = run.ReadIncomplete
		run = &full
	}
	if asJSON {
		return writeRun(a.stdout, run)
	}
	return printRun(a.stdout, run, true)
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

package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "The journal: every import and synchronization, and its report",
		Args:  noArgs,
	}
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			runs, err := st.ListRuns()
			if err != nil {
				return err
			}
			if listJSON {
				return writeJSON(a.stdout, runs)
			}
			t := newTable(a.stdout, "ID", "STARTED", "ACTOR", "SOURCE", "STATUS", "CREATED", "UPDATED", "SKIPPED", "FAILED", "COMMAND")
			for _, r := range runs {
				c := r.Counts
				t.row(fmt.Sprint(r.ID), r.Started.Local().Format("2006-01-02 15:04"), r.Actor, r.Source, string(r.Status),
					fmt.Sprint(c.Created), fmt.Sprint(c.Updated), fmt.Sprint(c.Skipped), fmt.Sprint(c.Failed), r.Command)
			}
			return t.flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON on stdout")

	var showJSON bool
	show := &cobra.Command{
		Use:     "show ID",
		Short:   "Show a run's completion report",
		Example: "  usersync runs show 3 --json",
		Args:    exactArgs(1, "one run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(strings.TrimPrefix(args[0], "#"), 10, 64)
			if err != nil {
				return usageErrorf("%q is not a run ID (a number, see 'usersync runs list')", args[0])
			}
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			r, err := st.GetRun(id)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no run %d; see 'usersync runs list'", id)
			} else if err != nil {
				return err
			}
			if showJSON {
				return writeRun(a.stdout, &r)
			}
			fmt.Fprintf(a.stdout, "Started:  %s by %s\n", r.Started.Local().Format("2006-01-02 15:04:05"), visible.String(r.Actor))
			if !r.Finished.IsZero() {
				fmt.Fprintf(a.stdout, "Finished: %s\n", r.Finished.Local().Format("2006-01-02 15:04:05"))
			}
			fmt.Fprintf(a.stdout, "Command:  %s\n", visible.String(r.Command))
			return printRun(a.stdout, &r, false)
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON on stdout")

	cmd.AddCommand(list, show)
	cmd.RunE = list.RunE
	cmd.Flags().AddFlagSet(list.Flags())
	return cmd
}

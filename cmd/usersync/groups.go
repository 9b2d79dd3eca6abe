package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List and show user groups",
		Args:  noArgs,
	}
	var listJSON bool
	list := &cobra.Command{
		Use:     "list",
		Short:   "List user groups",
		Example: "  usersync groups list --json | jq -r '.[] | select(.kind==\"external\") | .name'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			groups, err := st.ListGroups()
			if err != nil {
				return err
			}
			if listJSON {
				out := make([]groupJSON, 0, len(groups))
				for _, g := range groups {
					out = append(out, toGroupJSON(g))
				}
				return writeJSON(a.stdout, out)
			}
			t := newTable(a.stdout, "NAME", "KIND", "SOURCE", "MEMBERS", "ROLES")
			for _, g := range groups {
				t.row(g.Name, string(g.Kind), g.Source, fmt.Sprint(len(g.Members)), store.FormatAssignments(g.Roles))
			}
			return t.flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON on stdout")

	var showJSON bool
	show := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a group, its members and its roles",
		Example: "  usersync groups show Analysis",
		Args:    exactArgs(1, "one group NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			g, err := st.GetGroup(args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no group %q; see 'usersync groups list'", args[0])
			} else if err != nil {
				return err
			}
			if showJSON {
				return writeJSON(a.stdout, toGroupJSON(g))
			}
			w := a.stdout
			v := visible.String
			fmt.Fprintf(w, "Name:        %s\n", v(g.Name))
			fmt.Fprintf(w, "Kind:        %s\n", g.Kind)
			if g.Kind == store.External {
				fmt.Fprintf(w, "Source:      %s\n", v(g.Source))
				fmt.Fprintf(w, "External ID: %s\n", v(g.ExternalID))
			}
			fmt.Fprintf(w, "Roles:       %s\n", v(joinOrNone(splitNonEmpty(store.FormatAssignments(g.Roles)))))
			fmt.Fprintf(w, "Members (%d):\n", len(g.Members))
			for _, m := range g.Members {
				fmt.Fprintf(w, "  %s\n", v(m))
			}
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON on stdout")

	cmd.AddCommand(list, show)
	cmd.RunE = list.RunE
	cmd.Flags().AddFlagSet(list.Flags())
	return cmd
}

func splitNonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

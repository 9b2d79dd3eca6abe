package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

func (a *app) rolesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roles",
		Short: "List and add roles; assign and unassign them",
		Args:  noArgs,
	}
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List roles",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			roles, err := st.ListRoles()
			if err != nil {
				return err
			}
			if listJSON {
				out := make([]roleJSON, 0, len(roles))
				for _, r := range roles {
					out = append(out, roleJSON{Name: r.Name, Description: r.Description})
				}
				return writeJSON(a.stdout, out)
			}
			t := newTable(a.stdout, "NAME", "DESCRIPTION")
			for _, r := range roles {
				t.row(r.Name, r.Description)
			}
			return t.flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON on stdout")

	var description string
	var addJSON bool
	add := &cobra.Command{
		Use:     "add NAME",
		Short:   "Add a role",
		Example: "  usersync roles add Auditor --description 'Reads the audit trail'",
		Args:    exactArgs(1, "one role NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			r := store.Role{Name: args[0], Description: description}
			if err := st.AddRole(r); err != nil {
				if errors.Is(err, store.ErrExists) {
					return fmt.Errorf("a role named %q already exists", args[0])
				}
				return err
			}
			if addJSON {
				return writeJSON(a.stdout, roleJSON{Name: r.Name, Description: r.Description})
			}
			fmt.Fprintf(a.stdout, "Added role %s\n", visible.String(r.Name))
			return nil
		},
	}
	add.Flags().StringVar(&description, "description", "", "what the role permits")
	add.Flags().BoolVar(&addJSON, "json", false, "print the role as JSON on stdout")

	cmd.AddCommand(list, add,
		a.assignCommand("assign", "Grant a role on a scope to a user or group"),
		a.assignCommand("unassign", "Withdraw a role assignment from a user or group"))
	cmd.RunE = list.RunE
	cmd.Flags().AddFlagSet(list.Flags())
	return cmd
}

// assignCommand builds "roles assign" and "roles unassign".
func (a *app) assignCommand(verb, short string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     verb + " USER|GROUP ROLE[@SCOPE]",
		Short:   short,
		Example: "  usersync roles " + verb + " andbal Editor@project-x",
		Args:    exactArgs(2, "a USER (or GROUP) and a ROLE[@SCOPE]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			as, err := parseAssignment(args[1])
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			if verb == "assign" {
				err = st.Assign(args[0], as)
			} else {
				err = st.Unassign(args[0], as)
			}
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("%s %s %s: %w (see 'usersync users list', 'usersync groups list' and 'usersync roles list')", verb, args[1], args[0], err)
				}
				return err
			}
			if asJSON {
				return a.printPrincipalJSON(st, args[0])
			}
			if verb == "assign" {
				fmt.Fprintf(a.stdout, "%s now holds %s\n", visible.String(args[0]), visible.String(as.String()))
			} else {
				fmt.Fprintf(a.stdout, "%s no longer holds %s\n", visible.String(args[0]), visible.String(as.String()))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the user or group as JSON on stdout")
	return cmd
}

// printPrincipalJSON prints the user of that name, else the group.
func (a *app) printPrincipalJSON(st *store.Store, name string) error {
	if u, err := st.GetUser(name); err == nil {
		return writeJSON(a.stdout, toUserJSON(u))
	}
	g, err := st.GetGroup(name)
	if err != nil {
		return err
	}
	return writeJSON(a.stdout, toGroupJSON(g))
}

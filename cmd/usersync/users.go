package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

func (a *app) usersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List, show, add, enable, disable and delete users",
		Args:  noArgs,
	}
	var listJSON bool
	var kind, source, search string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List users",
		Example: "  usersync users list --kind external --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch store.Kind(kind) {
			case "", store.Internal, store.External:
			default:
				return usageErrorf("--kind must be internal or external, not %q", kind)
			}
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			users, err := st.ListUsers(store.UserFilter{Kind: store.Kind(kind), Source: source, Search: search})
			if err != nil {
				return err
			}
			if listJSON {
				out := make([]userJSON, 0, len(users))
				for _, u := range users {
					out = append(out, toUserJSON(u))
				}
				return writeJSON(a.stdout, out)
			}
			t := newTable(a.stdout, "USERNAME", "DISPLAY NAME", "EMAIL", "KIND", "SOURCE", "ENABLED", "ROLES")
			for _, u := range users {
				t.row(u.Username, u.DisplayName, u.Email, string(u.Kind), u.Source, yesNo(u.Enabled), store.FormatAssignments(u.Roles))
			}
			return t.flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON on stdout")
	list.Flags().StringVar(&kind, "kind", "", "only internal or external users")
	list.Flags().StringVar(&source, "source", "", "only users from this directory")
	list.Flags().StringVar(&search, "search", "", "only users whose username, name or email contains this text")

	cmd.AddCommand(list, a.userShowCommand(), a.userAddCommand(),
		a.userSetEnabledCommand("enable", true), a.userSetEnabledCommand("disable", false),
		a.userDeleteCommand())
	// "usersync users" alone lists, like "usersync users list".
	cmd.RunE = list.RunE
	cmd.Flags().AddFlagSet(list.Flags())
	return cmd
}

func (a *app) userShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show USERNAME",
		Short:   "Show a user, its groups and its effective roles",
		Example: "  usersync users show aandrei --json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.storeRO()
			if err != nil {
				return err
			}
			u, err := st.GetUser(args[0])
			if err != nil {
				return userError(args[0], err)
			}
			if asJSON {
				return writeJSON(a.stdout, toUserJSON(u))
			}
			eff, err := st.EffectiveRoles(u.Username)
			if err != nil {
				return err
			}
			w := a.stdout
			v := visible.String
			fmt.Fprintf(w, "Username:     %s\n", v(u.Username))
			fmt.Fprintf(w, "Display name: %s\n", v(u.DisplayName))
			fmt.Fprintf(w, "Email:        %s\n", v(u.Email))
			fmt.Fprintf(w, "Kind:         %s\n", u.Kind)
			if u.Kind == store.External {
				fmt.Fprintf(w, "Source:       %s\n", v(u.Source))
				fmt.Fprintf(w, "External ID:  %s\n", v(u.ExternalID))
				fmt.Fprintf(w, "DN:           %s\n", v(u.DN))
				if !u.Synced.IsZero() {
					fmt.Fprintf(w, "Synchronized: %s\n", u.Synced.Local().Format("2006-01-02 15:04:05"))
				}
			}
			fmt.Fprintf(w, "Enabled:      %s\n", yesNo(u.Enabled))
			fmt.Fprintf(w, "Groups:       %s\n", v(joinOrNone(u.Groups)))
			fmt.Fprintln(w, "Roles:")
			if len(eff) == 0 {
				fmt.Fprintln(w, "  (none)")
			}
			for _, e := range eff {
				via := "own"
				if e.Via != "" {
					via = "via group " + e.Via
				}
				fmt.Fprintf(w, "  %-24s %s\n", v(e.Assignment.String()), v(via))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON on stdout")
	return cmd
}

func (a *app) userAddCommand() *cobra.Command {
	var email, name, roles string
	var disabled, asJSON bool
	cmd := &cobra.Command{
		Use:     "add USERNAME",
		Short:   "Add an internal user",
		Example: "  usersync users add aandrei --email aandrei@example.com --name 'Andrei Aandrei' --roles Viewer,Editor@project-x",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			as, err := parseAssignments(roles)
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			u, err := st.AddUser(store.User{Username: args[0], Email: email, DisplayName: name, Enabled: !disabled, Roles: as})
			if err != nil {
				return userError(args[0], err)
			}
			if asJSON {
				return writeJSON(a.stdout, toUserJSON(u))
			}
			fmt.Fprintf(a.stdout, "Added internal user %s\n", visible.String(u.Username))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&email, "email", "", "email address")
	f.StringVar(&name, "name", "", "display name")
	f.StringVar(&roles, "roles", "", "roles to grant, as ROLE or ROLE@SCOPE, comma-separated")
	f.BoolVar(&disabled, "disabled", false, "create the user disabled")
	f.BoolVar(&asJSON, "json", false, "print the new user as JSON on stdout")
	return cmd
}

func (a *app) userSetEnabledCommand(verb string, enabled bool) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     verb + " USERNAME",
		Short:   map[bool]string{true: "Enable a user", false: "Disable a user"}[enabled],
		Example: "  usersync users " + verb + " andbal",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			if err := st.SetUserEnabled(args[0], enabled); err != nil {
				return userError(args[0], err)
			}
			if asJSON {
				u, err := st.GetUser(args[0])
				if err != nil {
					return err
				}
				return writeJSON(a.stdout, toUserJSON(u))
			}
			fmt.Fprintf(a.stdout, "%s %sd\n", visible.String(args[0]), verb)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the user as JSON on stdout")
	return cmd
}

func (a *app) userDeleteCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "delete USERNAME",
		Short:   "Delete a user and its memberships",
		Example: "  usersync users delete andbal",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			u, err := st.GetUser(args[0])
			if err != nil {
				return userError(args[0], err)
			}
			if err := st.DeleteUser(args[0]); err != nil {
				return userError(args[0], err)
			}
			if asJSON {
				return writeJSON(a.stdout, toUserJSON(u))
			}
			fmt.Fprintf(a.stdout, "Deleted user %s\n", visible.String(u.Username))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the deleted user as JSON on stdout")
	return cmd
}

// userError words a store error about a user for a person.
func userError(name string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &exitError{code: exitFailure, err: fmt.Errorf("no user %q; see 'usersync users list'", name)}
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("cannot add %q: a user of that name already exists (usernames are compared ignoring case)", name)
	}
	return err
}

func joinOrNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

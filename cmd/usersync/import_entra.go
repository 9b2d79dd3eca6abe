package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/store"
)

// importEntraOptions are the flags of "import entra".
type importEntraOptions struct {
	tenant, roles                       string
	groups                              []string
	addNew, updateExisting, yes, asJSON bool
}

func (a *app) importEntraCommand() *cobra.Command {
	var o importEntraOptions
	cmd := &cobra.Command{
		Use:   "entra --tenant NAME --group GROUP [--group ...]",
		Short: "Import the members of Entra ID groups",
		Long: `Sign in to a configured Entra ID tenant and import the groups named by
--group (a display name or an object id) with all their members, nested
groups included, with the same rules as the import wizard. Without --yes it
prints what each entry would get and changes nothing; with --yes it applies
and prints the run (see 'usersync runs show').

--add-new creates users that are not in the store yet; --update-existing
refreshes users imported before and links existing users with the same email
address (mail, else userPrincipalName; case-insensitive). With neither flag,
only new users are added. Users without an email address are reported as
errors. Sign-in follows the tenant's auth setting: device code prints an
address and a code to stderr and waits; client-secret and certificate need
no one at the keyboard (cron).`,
		Example: `  usersync import entra --tenant contoso --group Sales --group "Field Engineers" --add-new --update-existing --roles Viewer --yes --json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.importEntra(cmd.Context(), o, commandLine(os.Args[1:]))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.tenant, "tenant", "", "the configured Entra tenant (see 'usersync directories list')")
	f.StringArrayVar(&o.groups, "group", nil, "a group to import, by display name or object id (repeat for more)")
	f.BoolVar(&o.addNew, "add-new", false, "create users that are not in the store yet")
	f.BoolVar(&o.updateExisting, "update-existing", false, "refresh users imported before, and link existing users by email")
	f.StringVar(&o.roles, "roles", "", "roles for the new groups (their members hold them), as ROLE or ROLE@SCOPE, comma-separated")
	f.BoolVar(&o.yes, "yes", false, "apply the import (without it, only print the plan)")
	f.BoolVar(&o.asJSON, "json", false, "print the run as JSON on stdout")
	return cmd
}

func (a *app) importEntra(ctx context.Context, o importEntraOptions, command string) error {
	if o.tenant == "" {
		return usageErrorf("--tenant is required: the name of a configured Entra tenant (see 'usersync directories list')")
	}
	var groups []string
	for _, g := range o.groups {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return usageErrorf("--group is required: a group's display name or object id (repeat --group for more)")
	}
	roles, err := parseAssignments(o.roles)
	if err != nil {
		return err
	}
	if !o.addNew && !o.updateExisting {
		fmt.Fprintln(a.stderr, "Neither --add-new nor --update-existing given: adding new users only.")
		o.addNew = true
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if _, ok := cfg.entraConfig(o.tenant); !ok {
		return cfg.unknownDirectory(string(directory.KindEntra), o.tenant)
	}
	st, err := a.store()
	if err != nil {
		return err
	}
	dir, err := a.openEntra(ctx, o.tenant, entra.Options{})
	if err != nil {
		return err
	}
	defer dir.Close()

	in := store.Input{
		Source:  dir.Name(),
		Actor:   actor(),
		Command: command,
		Options: store.Options{
			Enable: true, Roles: roles,
			AddNew: o.addNew, UpdateExisting: o.updateExisting,
			MatchByEmail: true, RequireEmail: true,
		},
	}
	for _, name := range groups {
		g, err := dir.FindGroup(ctx, name)
		if err != nil {
			return fmt.Errorf("find group %q in %s: %w", name, dir.Name(), err)
		}
		// A read that fails (a page that never arrived, throttling that
		// outlasted the retries) is journaled as a failed run when applying.
		gi, err := st.ReadGroup(ctx, dir, g.ExternalID)
		if err != nil {
			return a.failRun(st, in, fmt.Errorf("read group %q from %s: %w", g.Name, dir.Name(), err), o.yes, o.asJSON)
		}
		in.Groups = append(in.Groups, gi)
	}
	return a.planOrApply(ctx, st, in, o.yes, o.asJSON)
}

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/importer"
)

func (a *app) importEntraCommand() *cobra.Command {
	var o importer.Entra
	var out output
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
			return a.importEntra(cmd.Context(), &o, out)
		},
	}
	o.Flags(cmd.Flags())
	out.flags(cmd, "import")
	_ = cmd.RegisterFlagCompletionFunc("tenant", a.completeDirectories("entra"))
	_ = cmd.RegisterFlagCompletionFunc("group", a.completeGroups)
	return cmd
}

func (a *app) importEntra(ctx context.Context, o *importer.Entra, out output) error {
	if err := o.Check(); err != nil {
		return usageErrorf("%v", err)
	}
	if note := o.Defaulted(); note != "" {
		fmt.Fprintln(a.stderr, note)
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if _, ok := cfg.entraConfig(o.Tenant); !ok {
		return cfg.unknownDirectory(string(directory.KindEntra), o.Tenant)
	}
	st, err := a.store()
	if err != nil {
		return err
	}
	dir, err := a.openEntra(ctx, o.Tenant, entra.Options{})
	if err != nil {
		return err
	}
	defer dir.Close()
	res, err := o.Run(ctx, a.env(st), dir, out.yes)
	return a.report(res, err, out)
}

package importer

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// LDAP is an import from an LDAP server: the flags of `usersync import
// ldap` and the LDAP wizard's choices.
type LDAP struct {
	// Server is the configured LDAP server (--server).
	Server string
	// Query is the search: a name with * wildcards, or a raw filter
	// starting with "(" (--query).
	Query string
	// Select names the results to import; empty means every result
	// (--select all).
	Select Names
	// Roles are granted to new selected entries (--roles).
	Roles Assignments
	// Enable enables new users after import (--enable).
	Enable bool
	// CopyRolesFrom also gives new entries this user's own assignments
	// (--copy-roles-from).
	CopyRolesFrom string
}

// Flags binds the request's fields to fs, as `usersync import ldap` takes
// them.
func (o *LDAP) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Server, "server", "", "the configured LDAP server `NAME` to search (see 'usersync directories list')")
	fs.StringVar(&o.Query, "query", "", "what to search for: `TEXT` with * wildcards, or a raw filter starting with (")
	fs.Var(&o.Select, "select", "which results to import: all, or a comma-separated list of names")
	fs.Lookup("select").DefValue = "all"
	fs.Var(&o.Roles, "roles", "roles for new entries, as ROLE or ROLE@SCOPE, comma-separated")
	fs.BoolVar(&o.Enable, "enable", false, "enable users after import (otherwise new users are created disabled)")
	fs.StringVar(&o.CopyRolesFrom, "copy-roles-from", "", "also give new entries the roles and assignments of this `USER`")
}

// Check says what is missing for the request to run (a usage error).
func (o *LDAP) Check() error {
	if strings.TrimSpace(o.Server) == "" {
		return fmt.Errorf("--server is required: the name of a configured LDAP server (see 'usersync directories list')")
	}
	if strings.TrimSpace(o.Query) == "" {
		return fmt.Errorf("--query is required: a name with * wildcards, or a raw LDAP filter")
	}
	return nil
}

// Args is the request as arguments of usersync, applying it (--yes).
func (o *LDAP) Args() []string {
	args := []string{"import", "ldap", "--server", o.Server, "--query", o.Query, "--select", o.Select.String()}
	if len(o.Roles) > 0 {
		args = append(args, "--roles", o.Roles.String())
	}
	if o.Enable {
		args = append(args, "--enable")
	}
	if o.CopyRolesFrom != "" {
		args = append(args, "--copy-roles-from", o.CopyRolesFrom)
	}
	return append(args, "--yes")
}

// CommandLine is the shell command that runs the request from a script.
func (o *LDAP) CommandLine() string { return CommandLine(o.Args()) }

// Options are the store's options for the request.
func (o *LDAP) Options() store.Options {
	return store.Options{
		AddNew: true, UpdateExisting: true,
		Enable: o.Enable, Roles: o.Roles, CopyRolesFrom: o.CopyRolesFrom,
	}
}

// Entra is an import of Entra ID groups: the flags of `usersync import
// entra` and the Entra wizard's choices.
type Entra struct {
	// Tenant is the configured Entra tenant (--tenant).
	Tenant string
	// Groups are display names or object ids (--group, repeated).
	Groups []string
	// AddNew creates users not in the store yet (--add-new).
	AddNew bool
	// UpdateExisting refreshes users imported before and links existing
	// users by email (--update-existing).
	UpdateExisting bool
	// Roles are granted to the new groups; their members hold them
	// (--roles).
	Roles Assignments
}

// Flags binds the request's fields to fs, as `usersync import entra` takes
// them.
func (o *Entra) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Tenant, "tenant", "", "the configured Entra tenant's `NAME` (see 'usersync directories list')")
	fs.StringArrayVar(&o.Groups, "group", nil, "a `GROUP` to import, by display name or object id (repeat for more)")
	fs.BoolVar(&o.AddNew, "add-new", false, "create users that are not in the store yet")
	fs.BoolVar(&o.UpdateExisting, "update-existing", false, "refresh users imported before, and link existing users by email")
	fs.Var(&o.Roles, "roles", "roles for the new groups (their members hold them), as ROLE or ROLE@SCOPE, comma-separated")
}

// Check says what is missing for the request to run (a usage error), and
// drops blank group names.
func (o *Entra) Check() error {
	if strings.TrimSpace(o.Tenant) == "" {
		return fmt.Errorf("--tenant is required: the name of a configured Entra tenant (see 'usersync directories list')")
	}
	var groups []string
	for _, g := range o.Groups {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	o.Groups = groups
	if len(groups) == 0 {
		return fmt.Errorf("--group is required: a group's display name or object id (repeat --group for more)")
	}
	return nil
}

// Defaulted applies the rule that neither --add-new nor --update-existing
// means adding new users only; it returns a note for a person when it did.
func (o *Entra) Defaulted() string {
	if o.AddNew || o.UpdateExisting {
		return ""
	}
	o.AddNew = true
	return "Neither --add-new nor --update-existing given: adding new users only."
}

// Args is the request as arguments of usersync, applying it (--yes).
func (o *Entra) Args() []string {
	args := []string{"import", "entra", "--tenant", o.Tenant}
	for _, g := range o.Groups {
		args = append(args, "--group", g)
	}
	if o.AddNew {
		args = append(args, "--add-new")
	}
	if o.UpdateExisting {
		args = append(args, "--update-existing")
	}
	if len(o.Roles) > 0 {
		args = append(args, "--roles", o.Roles.String())
	}
	return append(args, "--yes")
}

// CommandLine is the shell command that runs the request from a script.
func (o *Entra) CommandLine() string { return CommandLine(o.Args()) }

// Options are the store's options for the request: Entra users are
// enabled, matched with existing users by email, and need an email.
func (o *Entra) Options() store.Options {
	return store.Options{
		Enable: true, Roles: o.Roles,
		AddNew: o.AddNew, UpdateExisting: o.UpdateExisting,
		MatchByEmail: true, RequireEmail: true,
	}
}

// Sync is a synchronization of imported groups: the flags of `usersync
// sync` and a group card's Synchronize.
type Sync struct {
	// Groups names the groups (the command's arguments); empty with All.
	Groups []string
	// All synchronizes every imported group (--all).
	All bool
	// Force applies removals and disables beyond the threshold (--force).
	Force bool
	// Full reads every group whole even when the directory's change feed
	// could say what changed (--full; without --yes: the drift audit).
	Full bool
}

// Flags binds the request's flags to fs, as `usersync sync` takes them.
func (o *Sync) Flags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.All, "all", false, "synchronize every imported group")
	fs.BoolVar(&o.Force, "force", false, "apply even when more than the threshold would be removed or disabled")
	fs.BoolVar(&o.Full, "full", false, "read the groups whole, not only what changed since the last sync (without --yes: what a full read would change)")
}

// Check says what is wrong with the request (a usage error).
func (o *Sync) Check() error {
	if o.All == (len(o.Groups) > 0) {
		return fmt.Errorf("name the groups to synchronize, or pass --all (not both)")
	}
	return nil
}

// Args is the request as arguments of usersync, applying it (--yes).
func (o *Sync) Args() []string {
	args := []string{"sync"}
	if o.All {
		args = append(args, "--all")
	}
	args = append(args, o.Groups...)
	if o.Force {
		args = append(args, "--force")
	}
	if o.Full {
		args = append(args, "--full")
	}
	return append(args, "--yes")
}

// CommandLine is the shell command that runs the request from a script.
func (o *Sync) CommandLine() string { return CommandLine(o.Args()) }

// Options are the store's options for a sync of groups of a directory of
// the given kind: new members added, changed ones updated, under each
// group's remembered choices (store.SyncOptions), role assignments never
// changed.
func (o *Sync) Options(kind directory.Kind) store.Options {
	opts := store.SyncOptions(kind)
	opts.Force = o.Force
	return opts
}

// ParseLDAP reads back the arguments of `usersync import ldap` (after
// "ldap"); --yes and --json are accepted and ignored.
func ParseLDAP(args []string) (LDAP, error) {
	var o LDAP
	err := parse(args, o.Flags)
	return o, err
}

// ParseEntra reads back the arguments of `usersync import entra`.
func ParseEntra(args []string) (Entra, error) {
	var o Entra
	err := parse(args, o.Flags)
	return o, err
}

// ParseSync reads back the arguments of `usersync sync`.
func ParseSync(args []string) (Sync, error) {
	var o Sync
	fs := pflag.NewFlagSet("sync", pflag.ContinueOnError)
	o.Flags(fs)
	fs.Bool("yes", false, "")
	fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		o.Groups = fs.Args()
	}
	return o, nil
}

func parse(args []string, bind func(*pflag.FlagSet)) error {
	fs := pflag.NewFlagSet("import", pflag.ContinueOnError)
	bind(fs)
	fs.Bool("yes", false, "")
	fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

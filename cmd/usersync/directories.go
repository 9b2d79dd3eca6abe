package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/tui/visible"
)

func (a *app) directoriesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "directories",
		Aliases: []string{"directory", "dirs"},
		Short:   "List the configured directories and test the connection to one",
		Args:    noArgs,
	}
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the configured LDAP servers and Entra tenants",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			dirs := cfg.directories()
			if listJSON {
				return writeJSON(a.stdout, dirs)
			}
			if len(dirs) == 0 && cfg.missing {
				fmt.Fprintln(a.stderr, "No directories: "+cfg.noConfig()+".")
				return nil
			}
			if len(dirs) == 0 {
				fmt.Fprintf(a.stderr, "No directories configured in %s (see 'usersync --help' and the README's Configuration).\n", cfg.path)
				return nil
			}
			t := newTable(a.stdout, "NAME", "KIND", "URL")
			for _, d := range dirs {
				t.row(d.Name, d.Kind, d.URL)
			}
			return t.flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON on stdout")
	cmd.AddCommand(list, a.directoryTestCommand(), a.directoriesInitCommand())
	cmd.RunE = list.RunE
	cmd.Flags().AddFlagSet(list.Flags())
	return cmd
}

// directories lists the configured directories in the contract's shape.
func (c *Config) directories() []directoryJSON {
	out := make([]directoryJSON, 0, len(c.LDAP)+len(c.Entra))
	for _, l := range c.LDAP {
		out = append(out, directoryJSON{Name: l.Name, Kind: string(directory.KindLDAP), URL: l.URL})
	}
	for _, e := range c.Entra {
		out = append(out, directoryJSON{Name: e.Name, Kind: string(directory.KindEntra), URL: entraURL(e)})
	}
	return out
}

// entraURL is where a tenant's directory is read from.
func entraURL(e entra.Config) string {
	if e.GraphEndpoint != "" {
		return e.GraphEndpoint
	}
	switch e.Cloud {
	case "usgov":
		return "https://graph.microsoft.us"
	case "china":
		return "https://microsoftgraph.chinacloudapi.cn"
	}
	return "https://graph.microsoft.com"
}

// ldapConfig finds a configured LDAP server by name.
func (c *Config) ldapConfig(name string) (ldap.Config, bool) {
	for _, l := range c.LDAP {
		if strings.EqualFold(l.Name, name) {
			return l, true
		}
	}
	return ldap.Config{}, false
}

// unknownDirectory says which directories exist when a name matches none.
func (c *Config) unknownDirectory(kind, name string) error {
	var names []string
	for _, d := range c.directories() {
		if kind == "" || d.Kind == kind {
			names = append(names, d.Name)
		}
	}
	if len(names) == 0 && c.missing {
		return usageErrorf("no %sdirectory named %q: %s", kindWord(kind), name, c.noConfig())
	}
	if len(names) == 0 {
		return usageErrorf("no %sdirectory named %q: %s configures none", kindWord(kind), name, c.path)
	}
	return usageErrorf("no %sdirectory named %q in %s (configured: %s)", kindWord(kind), name, c.path, strings.Join(names, ", "))
}

func kindWord(kind string) string {
	if kind == "" {
		return ""
	}
	return strings.ToUpper(kind) + " "
}

// bindPassword finds the bind password of an LDAP server: the environment
// variable, else the file, else a prompt on the terminal. It is never
// logged or stored.
func (a *app) bindPassword(l ldap.Config) (string, error) {
	switch {
	case l.BindDN == "":
		return "", nil
	case l.BindPasswordEnv != "":
		p, ok := os.LookupEnv(l.BindPasswordEnv)
		if !ok || p == "" {
			return "", fmt.Errorf("%s: the bind password comes from $%s (bind_password_env), which is not set", l.Name, l.BindPasswordEnv)
		}
		return p, nil
	case l.BindPasswordFile != "":
		b, err := os.ReadFile(l.BindPasswordFile)
		if err != nil {
			return "", fmt.Errorf("%s: read bind_password_file: %w", l.Name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(tty.Fd()) {
		return "", fmt.Errorf("%s: no bind password: set bind_password_env or bind_password_file in the config (there is no terminal to ask on)", l.Name)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "Password for %s on %s: ", l.BindDN, l.Name)
	p, err := term.ReadPassword(tty.Fd())
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("%s: read password: %w", l.Name, err)
	}
	return string(p), nil
}

// openLDAP connects and binds to a configured LDAP server.
func (a *app) openLDAP(ctx context.Context, name string) (directory.Directory, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	l, ok := cfg.ldapConfig(name)
	if !ok {
		return nil, cfg.unknownDirectory(string(directory.KindLDAP), name)
	}
	if l.Password, err = a.bindPassword(l); err != nil {
		return nil, err
	}
	return openLDAPConfig(ctx, l)
}

// openLDAPConfig connects and binds with a config whose password is resolved.
func openLDAPConfig(ctx context.Context, l ldap.Config) (directory.Directory, error) {
	d, err := ldap.Open(ctx, l)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// openDirectory opens a configured directory of any kind by name.
func (a *app) openDirectory(ctx context.Context, name string) (directory.Directory, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.ldapConfig(name); ok {
		return a.openLDAP(ctx, name)
	}
	if _, ok := cfg.entraConfig(name); ok {
		return a.openEntra(ctx, name, entra.Options{})
	}
	return nil, cfg.unknownDirectory("", name)
}

func (a *app) directoryTestCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "test NAME",
		Short:   "Check a directory: connect, TLS, bind and base DN, step by step",
		Example: "  DC01_PASSWORD=... usersync directories test dc01",
		Args:    exactArgs(1, "one directory NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if _, ok := cfg.entraConfig(args[0]); ok {
				return a.testEntra(cmd.Context(), args[0])
			}
			l, ok := cfg.ldapConfig(args[0])
			if !ok {
				return cfg.unknownDirectory("", args[0])
			}
			if l.Password, err = a.bindPassword(l); err != nil {
				return err
			}
			checks := ldap.Test(cmd.Context(), l)
			fmt.Fprintf(a.stdout, "%s (%s)\n", l.Name, l.URL)
			for _, c := range checks {
				fmt.Fprintf(a.stdout, "  %s\n", visible.String(fmt.Sprint(c)))
			}
			if err := ldap.CheckErr(checks); err != nil {
				return fmt.Errorf("%s: %w", l.Name, err)
			}
			return nil
		},
	}
}

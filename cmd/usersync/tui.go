package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui"
)

const (
	startUsers  = tui.StartUsers
	startImport = tui.StartImport
)

// runTUI opens the Users app or the import wizard on the terminal.
func (a *app) runTUI(cmd *cobra.Command, start tui.Start) error {
	st, err := a.store()
	if err != nil {
		return err
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	return tui.Run(cmd.Context(), a.tuiConfig(st, cfg), start)
}

// tuiConfig is the app's configuration for the TUI: the store, the
// configured directories and how to open them, the OS user as the actor.
func (a *app) tuiConfig(st *store.Store, cfg *Config) tui.Config {
	return tui.Config{
		Store:   st,
		Sources: cfg.sources(),
		Open: func(ctx context.Context, name, password string) (directory.Directory, error) {
			return a.openForTUI(ctx, name, password)
		},
		OpenEntra: a.openEntraForTUI,
		Actor:     actor(),
	}
}

// openEntraForTUI signs in to a tenant for the wizard: the device code and
// Graph's throttling go to the screens through hooks, never to stderr
// (which would tear the full-screen UI).
func (a *app) openEntraForTUI(ctx context.Context, name string, hooks tui.EntraHooks) (tui.GroupSource, error) {
	d, err := a.openEntra(ctx, name, entra.Options{
		DeviceCodePrompt: func(_ context.Context, p entra.DeviceCodePrompt) {
			if hooks.Prompt != nil {
				hooks.Prompt(tui.DeviceCode{URL: p.VerificationURL, Code: p.UserCode, Message: p.Message})
			}
		},
		OnThrottle: func(wait time.Duration) {
			if hooks.Throttled != nil {
				hooks.Throttled(wait)
			}
		},
	})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return d, nil
}

// sources lists the configured directories for the wizard's picker.
func (c *Config) sources() []tui.Source {
	var out []tui.Source
	for _, l := range c.LDAP {
		out = append(out, tui.Source{
			Name: l.Name, Kind: directory.KindLDAP, URL: l.URL,
			NeedsPassword: l.BindDN != "" && l.BindPasswordEnv == "" && l.BindPasswordFile == "",
		})
	}
	for _, e := range c.Entra {
		out = append(out, tui.Source{Name: e.Name, Kind: directory.KindEntra, URL: entraURL(e)})
	}
	return out
}

// openForTUI opens a directory for the wizard: the password typed in the
// wizard when the config has no other source for it.
func (a *app) openForTUI(ctx context.Context, name, password string) (directory.Directory, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	if l, ok := cfg.ldapConfig(name); ok && l.BindDN != "" && l.BindPasswordEnv == "" && l.BindPasswordFile == "" {
		l.Password = password
		return openLDAPConfig(ctx, l)
	}
	return a.openDirectory(ctx, name)
}

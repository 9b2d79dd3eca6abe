package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/tui/visible"
)

// entraConfig finds a configured Entra tenant by name, ignoring case.
func (c *Config) entraConfig(name string) (entra.Config, bool) {
	for _, e := range c.Entra {
		if strings.EqualFold(e.Name, name) {
			return e, true
		}
	}
	return entra.Config{}, false
}

// openEntra signs in to a configured tenant: its secret or certificate is
// read from where the configuration says, never from the file itself.
// Without opts.DeviceCodePrompt the device-code instructions go to stderr.
func (a *app) openEntra(ctx context.Context, name string, opts entra.Options) (*entra.Directory, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	e, ok := cfg.entraConfig(name)
	if !ok {
		return nil, cfg.unknownDirectory(string(directory.KindEntra), name)
	}
	return openEntraConfig(ctx, e, opts, a)
}

// openEntraConfig signs in to the tenant e describes.
func openEntraConfig(ctx context.Context, e entra.Config, opts entra.Options, a *app) (*entra.Directory, error) {
	if err := e.LoadSecrets(); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	if opts.DeviceCodePrompt == nil {
		opts.DeviceCodePrompt = func(_ context.Context, p entra.DeviceCodePrompt) {
			fmt.Fprintf(a.stderr, "To sign in to %s, open %s and enter the code %s\n", e.Name, visible.String(p.VerificationURL), visible.String(p.UserCode))
		}
	}
	if opts.OnThrottle == nil {
		opts.OnThrottle = a.throttlePrinter()
	}
	d, err := entra.Open(ctx, e, opts)
	if err != nil {
		return nil, fmt.Errorf("sign in to %s: %w", e.Name, err)
	}
	return d, nil
}

// testEntra checks a tenant step by step: configuration, sign-in, reading
// groups (GroupMember.Read.All) and users (User.Read.All).
func (a *app) testEntra(ctx context.Context, name string) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	e, _ := cfg.entraConfig(name)
	fmt.Fprintf(a.stdout, "%s (%s)\n", e.Name, entraURL(e))
	step := func(ok bool, name, detail string) {
		if ok {
			fmt.Fprintf(a.stdout, "  ✓  %-8s %s\n", name, visible.String(detail))
		} else {
			fmt.Fprintf(a.stdout, "  ✗  %-8s %s\n", name, visible.String(detail))
		}
	}
	if err := e.Validate(); err != nil {
		step(false, "config", err.Error())
		return errors.New(name + ": the configuration is not usable")
	}
	step(true, "config", "tenant "+e.TenantID+", client "+e.ClientID)
	d, err := openEntraConfig(ctx, e, entra.Options{}, a)
	if err != nil {
		step(false, "sign-in", err.Error())
		return errors.New(name + ": sign-in failed")
	}
	defer d.Close()
	step(true, "sign-in", authName(e.Auth))
	var groups int
	errStop := errors.New("stop")
	err = d.ListGroups(ctx, "", func(directory.Entry) error {
		groups++
		if groups >= 1 {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		step(false, "groups", err.Error())
		return errors.New(name + ": cannot read groups")
	}
	step(true, "groups", "readable")
	if err := d.Search(ctx, "*", func(directory.Entry) error { return errStop }); err != nil && !errors.Is(err, errStop) {
		step(false, "users", err.Error())
		return errors.New(name + ": cannot read users")
	}
	step(true, "users", "readable")
	return nil
}

// throttlePrinter tells a person on a terminal that Graph asked us to wait.
func (a *app) throttlePrinter() func(time.Duration) {
	return func(wait time.Duration) {
		fmt.Fprintf(a.stderr, "Microsoft Graph is throttling requests: waiting %s before retrying\n", wait.Round(time.Second))
	}
}

func authName(auth string) string {
	if auth == "" {
		return entra.AuthDeviceCode
	}
	return auth
}

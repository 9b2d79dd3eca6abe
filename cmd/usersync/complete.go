package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/usersync/usersync/store"
)

// Shell completions of the names usersync knows: configured directories for
// --server and --tenant, imported groups for sync and --group.

// completeDirectories offers the configured directories of a kind.
func (a *app) completeDirectories(kind string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := a.config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, d := range cfg.directories() {
			if d.Kind == kind && strings.HasPrefix(strings.ToLower(d.Name), strings.ToLower(prefix)) {
				out = append(out, cobra.CompletionWithDesc(d.Name, d.URL))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeGroups offers the store's imported groups (from source, or any
// when source is "").
func (a *app) completeGroups(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	st, err := a.storeRO()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	groups, err := st.ListGroups()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, g := range groups {
		if g.Kind == store.External && strings.HasPrefix(strings.ToLower(g.Name), strings.ToLower(prefix)) {
			out = append(out, cobra.CompletionWithDesc(g.Name, g.Source))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

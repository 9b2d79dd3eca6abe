package importer

import (
	"strings"

	"github.com/usersync/usersync/store"
)

// Assignments is the value of --roles: ROLE or ROLE@SCOPE, comma-separated
// (store.ParseAssignments reads it, store.FormatAssignments writes it).
type Assignments []store.Assignment

// String implements pflag.Value.
func (a *Assignments) String() string { return store.FormatAssignments(*a) }

// Set implements pflag.Value; each --roles adds to the list.
func (a *Assignments) Set(s string) error {
	as, err := store.ParseAssignments(s)
	if err != nil {
		return err
	}
	*a = append(*a, as...)
	return nil
}

// Type implements pflag.Value.
func (a *Assignments) Type() string { return "roles" }

// Names is the value of --select: "all" (empty) or names, comma-separated.
type Names []string

// All reports whether every result is selected.
func (n Names) All() bool { return len(n) == 0 }

// String implements pflag.Value.
func (n *Names) String() string {
	if len(*n) == 0 {
		return "all"
	}
	return strings.Join(*n, ",")
}

// Set implements pflag.Value.
func (n *Names) Set(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		*n = nil
		return nil
	}
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*n = append(*n, name)
		}
	}
	return nil
}

// Type implements pflag.Value.
func (n *Names) Type() string { return "names" }

// CommandLine is "usersync" and args, each quoted for a POSIX shell when it
// needs it: the command line a request renders, and the one a run
// journals.
func CommandLine(args []string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, "usersync")
	for _, a := range args {
		parts = append(parts, ShellQuote(a))
	}
	return strings.Join(parts, " ")
}

// ShellQuote quotes s for a POSIX shell when it needs it: the one quoting
// of every command line usersync shows.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_@%+=:,./-", r):
		default:
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// Package importer turns a request — the flags of `usersync import ldap`,
// `usersync import entra` or `usersync sync`, or the import wizard's
// choices — into a planned or applied run of the store's import rules.
//
// One request type per command (LDAP, Entra, Sync) is at once the CLI's
// flags (Flags binds them to a pflag.FlagSet), the wizard's choices (the
// TUI fills the same struct) and the equivalent command line (Args and
// CommandLine render it; Parse reads it back). The package owns what every
// entry point used to wire for itself: the store options per directory
// kind, reading the chosen groups whole (ReadGroup), the warnings shown
// before an import (Warnings), and journaling a directory read that failed
// while applying, whoever started it. The TUI and cmd/usersync are thin
// callers; the import rules themselves stay in package store, and the
// directories' I/O in package directory and its adapters.
package importer

// Command usersync imports users and groups from LDAP directories and
// Microsoft Entra ID into the application's user store and keeps them in
// step. Without arguments it opens the Users app; every wizard has a
// non-interactive twin for scripts (see --help).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/usersync/usersync/tui/visible"
)

// Exit codes are part of the CLI contract.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitEntryError = 3
	exitIncomplete = 4
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceUsage, root.SilenceErrors = true, true
	root.Version = versionText()
	root.SetVersionTemplate("{{.Version}}\n") // --version prints what `usersync version` prints
	root.SetHelpFunc(help)
	// "usersync sycn --all": the flag is unknown to the root because the
	// command is mistyped; say so rather than blame the flag.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if c == root {
			for i := 0; i < len(args); i++ {
				switch a := args[i]; {
				case a == "--store" || a == "--config":
					i++ // its value
				case !strings.HasPrefix(a, "-"):
					return noArgs(c, []string{a})
				}
			}
		}
		return &exitError{code: exitUsage, err: err}
	})
	// Ctrl+C and SIGTERM cancel the context: a running import stops between
	// batches and is journaled as interrupted.
	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if err != nil {
		errorHandler(stderr, err)
	}
	defer app.close()
	return exitCode(err)
}

// exitError carries the exit code an error should end the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad usage (exit code 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// errEntryErrors ends a run that finished with per-entry errors (exit 3).
// It prints nothing: the run report already said what failed.
var errEntryErrors = &exitError{code: exitEntryError, err: errors.New("the run finished with per-entry errors")}

// errIncomplete ends a run whose directory read was incomplete (exit 4):
// what could be proven was applied, nothing was removed or disabled.
var errIncomplete = &exitError{code: exitIncomplete, err: errors.New("finished, but a directory read was incomplete: nothing was removed or disabled")}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isCobraUsageError(err) {
		return exitUsage
	}
	return exitFailure
}

// isCobraUsageError recognises the errors cobra and pflag make for bad
// command lines, which carry no type of their own.
func isCobraUsageError(err error) bool {
	s := err.Error()
	for _, prefix := range []string{
		"unknown command", "unknown flag", "unknown shorthand flag",
		"flag needs an argument", "invalid argument", "accepts ",
		"requires at least", "requires at most", "received ", "required flag",
		"if any flags in the group", "bad flag syntax",
	} {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// errorHandler prints an error for a person on stderr: plain when stderr is
// not a terminal (cron, pipes), its first word in bold red when it is
// (NO_COLOR honoured).
func errorHandler(w io.Writer, err error) {
	if errors.Is(err, errEntryErrors) {
		return
	}
	// An error can carry a directory's or a server's text: shown visibly,
	// line by line (our messages break lines on purpose).
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = visible.String(l)
	}
	text := strings.Join(lines, "\n")
	prefix := "usersync:"
	if f, ok := w.(term.File); ok && term.IsTerminal(f.Fd()) {
		prefix = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Red).Render("usersync:")
		w = colorprofile.NewWriter(w, os.Environ())
	}
	fmt.Fprintf(w, "%s %s\n", prefix, text)
	if exitCode(err) == exitUsage {
		fmt.Fprintln(w, "Try 'usersync --help' for usage.")
	}
}

// exactArgs is cobra.ExactArgs with a usage error (exit 2).
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %s (got %d argument(s)); see '%s --help'", cmd.CommandPath(), what, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// noArgs is cobra.NoArgs with a usage error (exit 2). On a command with
// subcommands, an argument is a mistyped command: the error suggests the
// closest ones ("usersync imprt": did you mean import?).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && cmd.HasAvailableSubCommands() {
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %s?", quotedList(s))
		}
		return usageErrorf("%s", msg)
	}
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments (got %q); see '%s --help'", cmd.CommandPath(), args, cmd.CommandPath())
	}
	return nil
}

// quotedList is "a" or "a" or "b".
func quotedList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, " or ")
}

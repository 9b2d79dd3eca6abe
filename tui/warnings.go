package tui

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

var folder = cases.Fold()

// foldName folds a username the way the store compares them: NFKC, then
// Unicode case folding (AAndrei and aandrei collide).
func foldName(s string) string { return folder.String(norm.NFKC.String(s)) }

// importWarnings lists what usually goes wrong in an import of entries
// (the selected rows and the members of the selected groups): usernames
// that differ only in case, emails shared by several users, users with no
// email, entries disabled in the directory.
func importWarnings(entries []directory.Entry) []string {
	seen := map[string]bool{}
	var users []directory.Entry
	var disabled []string
	for _, e := range entries {
		id := string(e.Type) + ":" + e.ExternalID
		if e.ExternalID == "" {
			id = string(e.Type) + ":name:" + e.Name
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if e.Disabled {
			disabled = append(disabled, e.Name)
		}
		if e.Type == directory.TypeUser {
			users = append(users, e)
		}
	}
	var out []string

	byFold := map[string][]string{}
	var folds []string
	for _, u := range users {
		f := foldName(u.Name)
		if _, ok := byFold[f]; !ok {
			folds = append(folds, f)
		}
		byFold[f] = append(byFold[f], u.Name)
	}
	for _, f := range folds {
		if names := distinct(byFold[f]); len(names) > 1 {
			out = append(out, fmt.Sprintf("%s differ only in case: the store treats them as one username.", listNames(names, 4)))
		}
	}

	byEmail := map[string][]string{}
	var emails []string
	var noEmail []string
	for _, u := range users {
		if strings.TrimSpace(u.Email) == "" {
			noEmail = append(noEmail, u.Name)
			continue
		}
		k := strings.ToLower(strings.TrimSpace(u.Email))
		if _, ok := byEmail[k]; !ok {
			emails = append(emails, k)
		}
		byEmail[k] = append(byEmail[k], u.Name)
	}
	for _, e := range emails {
		if names := byEmail[e]; len(names) > 1 {
			out = append(out, fmt.Sprintf("%d users share the email %s: %s.", len(names), e, listNames(names, 4)))
		}
	}
	if len(noEmail) > 0 {
		out = append(out, fmt.Sprintf("%s no email address: %s.", plural(len(noEmail), "user has", "users have"), listNames(noEmail, 5)))
	}
	if len(disabled) > 0 {
		out = append(out, fmt.Sprintf("%s disabled in the directory and will be imported disabled: %s.",
			plural(len(disabled), "entry is", "entries are"), listNames(disabled, 5)))
	}
	return out
}

func distinct(names []string) []string {
	m := map[string]bool{}
	var out []string
	for _, n := range names {
		if !m[n] {
			m[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_@%+=:,./-", r):
		default:
			safe = false
		}
		if !safe {
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// importCommand is the command line that repeats a wizard import from a
// script: usersync import ldap --server S --query Q --select … --yes.
type importCommand struct {
	server   string
	query    string
	names    []string // the selected rows' names
	all      bool     // every selectable row of a complete search is selected
	roles    []store.Assignment
	enable   bool
	copyFrom string
}

func (c importCommand) String() string {
	args := []string{"usersync", "import", "ldap", "--server", shellQuote(c.server), "--query", shellQuote(c.query)}
	sel := "all"
	if !c.all {
		sel = strings.Join(c.names, ",")
	}
	args = append(args, "--select", shellQuote(sel))
	if len(c.roles) > 0 {
		args = append(args, "--roles", shellQuote(assignmentsText(c.roles)))
	}
	if c.enable {
		args = append(args, "--enable")
	}
	if c.copyFrom != "" {
		args = append(args, "--copy-roles-from", shellQuote(c.copyFrom))
	}
	return strings.Join(append(args, "--yes"), " ")
}

// wrapHard breaks s into lines of at most w cells, without losing a
// character (a command line must stay copyable).
func wrapHard(s string, w int) []string {
	if w < 1 {
		return []string{s}
	}
	var out []string
	r := []rune(s)
	for len(r) > w {
		cutAt := w
		// Prefer breaking after a space.
		for i := w; i > w/2; i-- {
			if r[i-1] == ' ' {
				cutAt = i
				break
			}
		}
		out = append(out, string(r[:cutAt]))
		r = r[cutAt:]
	}
	return append(out, string(r))
}

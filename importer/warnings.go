package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// Warnings lists what usually goes wrong in an import of entries (the
// selected rows and the members of the selected groups): usernames that
// differ only in case (folded as the store folds them, store.Fold),
// emails shared by several users, users with no email, entries disabled in
// the directory.
func Warnings(entries []directory.Entry) []string {
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
		f := store.Fold(u.Name)
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

// listNames lists up to max names, then "and N more".
func listNames(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// plural is "1 user" or "3 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

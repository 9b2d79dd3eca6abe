package ldap_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(t testing.TB, cfg ldap.Config) *ldap.Directory {
	t.Helper()
	d, err := ldap.Open(testContext(t), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func search(t testing.TB, d *ldap.Directory, query string) []directory.Entry {
	t.Helper()
	var out []directory.Entry
	err := d.Search(testContext(t), query, func(e directory.Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Search(%q): %v", query, err)
	}
	return out
}

// names are the entries' names, sorted.
func names(entries []directory.Entry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name)
	}
	slices.Sort(out)
	return out
}

func byName(entries []directory.Entry, name string) (directory.Entry, bool) {
	for _, e := range entries {
		if e.Name == name {
			return e, true
		}
	}
	return directory.Entry{}, false
}

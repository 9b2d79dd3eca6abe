package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// The JSON shapes below are the CLI contract (product page, "JSON shapes"):
// field names never change once released.

type assignmentJSON struct {
	Role  string `json:"role"`
	Scope string `json:"scope"`
}

type userJSON struct {
	Username    string           `json:"username"`
	DisplayName string           `json:"display_name"`
	Email       string           `json:"email"`
	Kind        string           `json:"kind"`
	Source      string           `json:"source"`
	ExternalID  string           `json:"external_id"`
	DN          string           `json:"dn"`
	Enabled     bool             `json:"enabled"`
	Roles       []assignmentJSON `json:"roles"`
	Groups      []string         `json:"groups"`
}

type groupJSON struct {
	Name       string           `json:"name"`
	Kind       string           `json:"kind"`
	Source     string           `json:"source"`
	ExternalID string           `json:"external_id"`
	Members    []string         `json:"members"`
	Roles      []assignmentJSON `json:"roles"`
}

type roleJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type directoryJSON struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

func toAssignments(as []store.Assignment) []assignmentJSON {
	out := make([]assignmentJSON, 0, len(as))
	for _, a := range as {
		out = append(out, assignmentJSON{Role: a.Role, Scope: a.Scope})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toUserJSON(u store.User) userJSON {
	return userJSON{
		Username: u.Username, DisplayName: u.DisplayName, Email: u.Email,
		Kind: string(u.Kind), Source: u.Source, ExternalID: u.ExternalID, DN: u.DN,
		Enabled: u.Enabled, Roles: toAssignments(u.Roles), Groups: nonNil(u.Groups),
	}
}

func toGroupJSON(g store.Group) groupJSON {
	return groupJSON{
		Name: g.Name, Kind: string(g.Kind), Source: g.Source, ExternalID: g.ExternalID,
		Members: nonNil(g.Members), Roles: toAssignments(g.Roles),
	}
}

// writeRun prints a run as one compact JSON object on its own line (JSON
// Lines): the contract's run object, store.Run's own JSON, the same bytes
// as the report the TUI saves.
func writeRun(w io.Writer, r *store.Run) error {
	b, err := r.JSONLine()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// writeJSON prints v on w as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row writes one row; every cell is shown with visible.String, so a
// directory's text cannot add a row, move a column or reach the terminal
// as a control sequence.
func (t *table) row(cols ...string) {
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = visible.String(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// parseAssignments reads "Viewer,Editor@project-x" (store.ParseAssignments);
// a bad spelling is a usage error.
func parseAssignments(s string) ([]store.Assignment, error) {
	as, err := store.ParseAssignments(s)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return as, nil
}

func parseAssignment(s string) (store.Assignment, error) {
	a, err := store.ParseAssignment(s)
	if err != nil {
		return store.Assignment{}, usageErrorf("%v", err)
	}
	return a, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// reportListAll is how many entries a report lists in full; a larger run's
// report lists only the entries that need attention.
const reportListAll = 50

// printRun writes a run report for a person: the counts, then one line per
// entry. With brief, a run of more than reportListAll entries lists only
// those that need attention (failed, skipped, removed, disabled) and says
// how to see the rest (`runs show ID`, --json keep everything).
func printRun(w io.Writer, r *store.Run, brief bool) error {
	c := r.Counts
	verb := "Run"
	if r.Status == store.RunPlanned {
		verb = "Plan (nothing changed; re-run with --yes to apply)"
	}
	fmt.Fprintf(w, "%s #%d from %s: %s (%s read)\n", verb, r.ID, visible.String(r.Source), r.Status, r.Mode)
	if r.Note != "" {
		fmt.Fprintf(w, "read: %s\n", visible.String(r.Note))
	}
	fmt.Fprintf(w, "created %d, updated %d, unchanged %d, skipped %d, failed %d, removed %d, disabled %d\n",
		c.Created, c.Updated, c.Unchanged, c.Skipped, c.Failed, c.Removed, c.Disabled)
	if r.Error != "" {
		fmt.Fprintf(w, "note: %s\n", visible.String(r.Error))
	}
	if len(r.Entries) == 0 {
		return nil
	}
	entries := r.Entries
	if brief && (len(entries) > reportListAll || r.Trimmed) {
		entries = nil
		for _, e := range r.Entries {
			switch e.Action {
			case store.ActionFailed, store.ActionSkipped, store.ActionRemoved, store.ActionDisabled:
				entries = append(entries, e)
			}
		}
		how := "'usersync runs show " + fmt.Sprint(r.ID) + "' lists them all"
		if r.ID == 0 {
			how = "--json lists them all"
		}
		fmt.Fprintf(w, "%d entries; those that need attention follow (%s)\n", c.Total(), how)
		if len(entries) == 0 {
			return nil
		}
	}
	t := newTable(w, "NAME", "TYPE", "ACTION", "REASON")
	for _, e := range entries {
		t.row(e.Name, string(e.Type), string(e.Action), e.Reason)
	}
	return t.flush()
}

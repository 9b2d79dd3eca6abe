package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

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

type countsJSON struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	Removed   int `json:"removed"`
	Disabled  int `json:"disabled"`
}

type runEntryJSON struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

type runJSON struct {
	ID       uint64         `json:"id"`
	Started  time.Time      `json:"started"`
	Finished *time.Time     `json:"finished"`
	Actor    string         `json:"actor"`
	Source   string         `json:"source"`
	Command  string         `json:"command"`
	Status   string         `json:"status"`
	Error    string         `json:"error,omitempty"`
	Counts   countsJSON     `json:"counts"`
	Entries  []runEntryJSON `json:"entries"`
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

func toRunJSON(r *store.Run) runJSON {
	out := runJSON{
		ID: r.ID, Started: r.Started, Actor: r.Actor, Source: r.Source,
		Command: r.Command, Status: string(r.Status), Error: r.Error,
		Counts:  countsJSON(r.Counts),
		Entries: make([]runEntryJSON, 0, len(r.Entries)),
	}
	if !r.Finished.IsZero() {
		f := r.Finished
		out.Finished = &f
	}
	for _, e := range r.Entries {
		out.Entries = append(out.Entries, runEntryJSON{Name: e.Name, Type: string(e.Type), Action: string(e.Action), Reason: e.Reason})
	}
	return out
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

func formatAssignments(as []store.Assignment) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		parts = append(parts, formatAssignment(a))
	}
	return strings.Join(parts, ",")
}

// formatAssignment writes ROLE, or ROLE@SCOPE when the scope is not global,
// the same spelling --roles takes.
func formatAssignment(a store.Assignment) string {
	if a.Scope == "" || a.Scope == store.GlobalScope {
		return a.Role
	}
	return a.Role + "@" + a.Scope
}

// parseAssignments reads "Viewer,Editor@project-x".
func parseAssignments(s string) ([]store.Assignment, error) {
	var out []store.Assignment
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, err := parseAssignment(part)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func parseAssignment(s string) (store.Assignment, error) {
	role, scope, found := strings.Cut(strings.TrimSpace(s), "@")
	role, scope = strings.TrimSpace(role), strings.TrimSpace(scope)
	if role == "" || (found && scope == "") {
		return store.Assignment{}, usageErrorf("%q is not ROLE or ROLE@SCOPE", s)
	}
	if scope == "" {
		scope = store.GlobalScope
	}
	return store.Assignment{Role: role, Scope: scope}, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// printRun writes a run report for a person: the counts, then one line per
// entry that did something or was refused.
func printRun(w io.Writer, r *store.Run) error {
	c := r.Counts
	verb := "Run"
	if r.Status == store.RunPlanned {
		verb = "Plan (nothing changed; re-run with --yes to apply)"
	}
	fmt.Fprintf(w, "%s #%d from %s: %s\n", verb, r.ID, visible.String(r.Source), r.Status)
	fmt.Fprintf(w, "created %d, updated %d, unchanged %d, skipped %d, failed %d, removed %d, disabled %d\n",
		c.Created, c.Updated, c.Unchanged, c.Skipped, c.Failed, c.Removed, c.Disabled)
	if r.Error != "" {
		fmt.Fprintf(w, "note: %s\n", visible.String(r.Error))
	}
	if len(r.Entries) == 0 {
		return nil
	}
	t := newTable(w, "NAME", "TYPE", "ACTION", "REASON")
	for _, e := range r.Entries {
		t.row(e.Name, string(e.Type), string(e.Action), e.Reason)
	}
	return t.flush()
}

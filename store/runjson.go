package store

import (
	"bytes"
	"encoding/json"
	"time"
)

// runJSON is the run object of the CLI contract (product page, "JSON
// shapes"): field names never change once released. It is written by
// Run.MarshalJSON only, so `runs show --json`, the JSON Lines an import or
// sync prints and the report saved from the TUI are the same bytes.
type runJSON struct {
	ID       uint64         `json:"id"`
	Started  time.Time      `json:"started"`
	Finished *time.Time     `json:"finished"`
	Actor    string         `json:"actor"`
	Source   string         `json:"source"`
	Command  string         `json:"command"`
	Status   RunStatus      `json:"status"`
	Mode     Mode           `json:"mode"`
	Note     string         `json:"note,omitempty"`
	Error    string         `json:"error,omitempty"`
	Counts   Counts         `json:"counts"`
	Entries  []runEntryJSON `json:"entries"`
}

type runEntryJSON struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Action Action `json:"action"`
	Reason string `json:"reason"`
}

// MarshalJSON writes the contract's run object: finished is null while the
// run has no end, mode is "full" unless the run read incrementally.
func (r Run) MarshalJSON() ([]byte, error) {
	out := runJSON{
		ID: r.ID, Started: r.Started, Actor: r.Actor, Source: r.Source, Command: r.Command,
		Status: r.Status, Mode: r.Mode, Note: r.Note, Error: r.Error, Counts: r.Counts,
		Entries: make([]runEntryJSON, 0, len(r.Entries)),
	}
	if out.Mode == "" {
		out.Mode = ModeFull
	}
	if !r.Finished.IsZero() {
		f := r.Finished
		out.Finished = &f
	}
	for _, e := range r.Entries {
		out.Entries = append(out.Entries, runEntryJSON{Name: e.Name, Type: string(e.Type), Action: e.Action, Reason: e.Reason})
	}
	return json.Marshal(out)
}

// JSONLine is the run as one compact JSON object followed by a newline:
// a line of JSON Lines, as every command that prints runs writes them.
func (r *Run) JSONLine() ([]byte, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// OverThreshold reports whether the run left a group as it was because its
// sync would remove or disable more members than the threshold allows.
func (r *Run) OverThreshold() bool {
	for _, e := range r.Entries {
		if e.Block == BlockedThreshold {
			return true
		}
	}
	return false
}

// Total is the number of entries counted.
func (c Counts) Total() int {
	return c.Created + c.Updated + c.Unchanged + c.Skipped + c.Failed + c.Removed + c.Disabled
}

package store

// This file is the store's public surface: the records it keeps and the
// inputs and outputs of the import rules. The CLI, the TUI and the SSH server
// use only what is declared here.

import (
	"errors"
	"time"

	"github.com/usersync/usersync/directory"
)

// Sentinel errors callers branch on.
var (
	// ErrInUse: another process holds the store open.
	ErrInUse = errors.New("store is in use by another usersync process")
	// ErrNotStore: the file exists but is not a usersync store.
	ErrNotStore = errors.New("not a usersync store")
	// ErrNewerSchema: the store was written by a newer usersync.
	ErrNewerSchema = errors.New("store schema is newer than this usersync")
	// ErrNotFound: no such user, group, role or run.
	ErrNotFound = errors.New("not found")
	// ErrExists: a user, group or role of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: a name or value that the store does not accept.
	ErrInvalid = errors.New("invalid")
	// ErrStale is an input read from a store that has changed since in a
	// way that concerns it: a group it synchronizes was synchronized or
	// re-imported by someone else meanwhile (Input.Expect). Nothing was
	// applied; read again from the store as it is now.
	ErrStale = errors.New("the store changed since the input was read")
)

// Kind tells internal records (made in the application) from external ones
// (that came from a directory).
type Kind string

// The kinds of user and group.
const (
	Internal Kind = "internal"
	External Kind = "external"
)

// GlobalScope is the scope of an assignment made without one.
const GlobalScope = "global"

// Assignment is a role granted on a scope.
type Assignment struct {
	Role  string `json:"role"`
	Scope string `json:"scope"`
}

// User is a user of the application.
type User struct {
	Username    string       `json:"username"`
	DisplayName string       `json:"display_name"`
	Email       string       `json:"email"`
	Kind        Kind         `json:"kind"`
	Source      string       `json:"source"`
	ExternalID  string       `json:"external_id"`
	DN          string       `json:"dn"`
	Enabled     bool         `json:"enabled"`
	Guest       bool         `json:"guest,omitempty"`
	Roles       []Assignment `json:"roles"`
	// Groups is filled by reads that return a user: the names of the groups
	// it is a member of.
	Groups   []string  `json:"groups"`
	Created  time.Time `json:"created"`
	Synced   time.Time `json:"synced,omitzero"`
	Modified time.Time `json:"modified"`
}

// Group is a user group of the application.
type Group struct {
	Name       string       `json:"name"`
	Kind       Kind         `json:"kind"`
	Source     string       `json:"source"`
	ExternalID string       `json:"external_id"`
	DN         string       `json:"dn,omitempty"`
	Members    []string     `json:"members"` // usernames, filled by reads
	Roles      []Assignment `json:"roles"`
	Created    time.Time    `json:"created"`
	Synced     time.Time    `json:"synced,omitzero"`
	// Import is how the group was imported (nil for internal groups and
	// groups imported before usersync remembered it): its syncs add new
	// members under the same choices.
	Import *GroupImport `json:"import,omitempty"`
	// Feed is the directory's change-feed cookie as of the group's last
	// complete read (nil: none yet); the next sync reads only the changes
	// since it. Nested are the groups whose members that read flattened in.
	Feed   []byte   `json:"-"`
	Nested []string `json:"-"`
}

// GroupImport is what a group remembers of the import that brought it in.
type GroupImport struct {
	// Enable: new members are enabled (else created disabled, pending
	// review).
	Enable bool `json:"enable"`
	// MatchByEmail and RequireEmail are the directory's matching rules
	// (Entra ID: link existing users by email; users need one).
	MatchByEmail bool `json:"match_by_email,omitempty"`
	RequireEmail bool `json:"require_email,omitempty"`
}

// Role is a named permission set.
type Role struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// EffectiveAssignment is an assignment a user holds, and where from: "" for
// its own, or the name of the group it holds it through.
type EffectiveAssignment struct {
	Assignment
	Via string `json:"via"`
}

// Action is what the import rules decide for one entry, and what happened to
// it. The names are those of the run's counts.
type Action string

// The actions of a plan and a run.
const (
	ActionCreated   Action = "created"
	ActionUpdated   Action = "updated"
	ActionUnchanged Action = "unchanged"
	ActionSkipped   Action = "skipped"
	ActionFailed    Action = "failed"
	ActionRemoved   Action = "removed"  // a member removed from a group
	ActionDisabled  Action = "disabled" // a user disabled by a sync
)

// Block says why an entry is skipped, for entries blocked by the rules.
type Block string

// The reasons the rules block an entry.
const (
	NotBlocked      Block = ""
	BlockedInternal Block = "internal"     // a username that exists as an internal user
	BlockedSource   Block = "other-source" // taken by another source's user
	// BlockedThreshold marks a group whose sync would remove or disable
	// more members than the threshold allows: journaled as failed, nothing
	// removed; Options.Force lifts it.
	BlockedThreshold Block = "threshold"
)

// ReasonInternal is the reason text of an entry blocked by an internal user
// of the same name. The wording is the product's.
const ReasonInternal = "Username already exists as an internal user"

// RunStatus is the state of a run in the journal.
type RunStatus string

// The states of a run.
const (
	RunPlanned   RunStatus = "planned"
	RunRunning   RunStatus = "running"
	RunCompleted RunStatus = "completed"
	// RunIncomplete: the run applied what it could prove, but a directory
	// read did not finish, so nothing was removed or disabled.
	RunIncomplete  RunStatus = "incomplete"
	RunFailed      RunStatus = "failed"
	RunInterrupted RunStatus = "interrupted"
)

// Counts tallies a run's entries by action.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	Removed   int `json:"removed"`
	Disabled  int `json:"disabled"`
}

// RunEntry is one entry's outcome in a run.
type RunEntry struct {
	Name   string              `json:"name"`
	Type   directory.EntryType `json:"type"`
	Action Action              `json:"action"`
	Reason string              `json:"reason"`
	// Block is set for entries skipped by a blocking rule.
	Block Block `json:"block,omitempty"`
	// Group names the group a removed member was removed from.
	Group string `json:"group,omitempty"`
}

// Mode is how a run read its directory.
type Mode string

// The modes of a run.
const (
	ModeFull        Mode = "full"        // every entry read
	ModeIncremental Mode = "incremental" // only what changed, from a change feed
)

// Run is one import or synchronization, as journaled. Its JSON (run.go,
// MarshalJSON) is the CLI contract's run object, the same for `runs show
// --json`, the JSON Lines of imports and syncs, and the report saved from
// the TUI.
type Run struct {
	ID       uint64
	Started  time.Time
	Finished time.Time // zero while running
	Actor    string
	Source   string
	Command  string
	Status   RunStatus
	Mode     Mode
	// Error says why a failed run failed, or why a read was incomplete.
	Error string
	// Note says how the run read its directory, when there is something
	// to say (an incremental read's size, a refused cookie).
	Note    string
	Counts  Counts
	Entries []RunEntry
	// ReadIncomplete is set when a directory read of the run did not
	// finish (also on a plan, whose status stays planned).
	ReadIncomplete bool
	// Trimmed is set on a run returned by ApplyStream, which keeps in
	// memory only the entries that need attention (skipped, failed,
	// removed, disabled): GetRun reads them all from the journal.
	Trimmed bool
}

// Options are the choices of an import, as the wizard and the CLI offer them.
type Options struct {
	// Enable enables new users after import; off, they are created
	// disabled, pending review. Users disabled in the directory are always
	// stored disabled.
	Enable bool
	// Roles are granted to new entries that were selected (not to members
	// imported only through a group: they hold the group's roles).
	Roles []Assignment
	// CopyRolesFrom names a user whose own assignments are granted to new
	// selected entries as well.
	CopyRolesFrom string
	// AddNew creates entries not yet in the store.
	AddNew bool
	// UpdateExisting refreshes entries imported before.
	UpdateExisting bool
	// MatchByEmail links a user not yet imported from this source to an
	// existing user with the same email address (case-insensitive), as the
	// Entra wizard does.
	MatchByEmail bool
	// RequireEmail fails users without an email address (Entra).
	RequireEmail bool
	// Force applies removals and disables beyond the threshold.
	Force bool
	// Sync marks a synchronization of groups imported before: the new
	// members of each group are enabled or not as the group's own import
	// chose (Group.Import), and the groups keep those remembered choices.
	Sync bool
	// Threshold limits removals and disables per group; the zero value
	// means the default (10% of the group or 500, whichever is smaller).
	Threshold Threshold
}

// SyncOptions are the options of a synchronization of groups read from a
// directory of the given kind, the same for `usersync sync` and the group
// card's Synchronize: new members are added, changed ones updated; members
// from Entra ID are also matched with existing users by email, and need
// one, as the Entra import does. Role assignments are never changed.
func SyncOptions(kind directory.Kind) Options {
	o := Options{AddNew: true, UpdateExisting: true, Sync: true}
	if kind == directory.KindEntra {
		o.MatchByEmail, o.RequireEmail = true, true
	}
	return o
}

// Threshold is the most a sync may remove or disable in one group without
// being forced: Percent of the group's members, or Max, whichever is smaller.
type Threshold struct {
	Percent float64
	Max     int
}

// DefaultThreshold is 10% of the group or 500 users, whichever is smaller.
var DefaultThreshold = Threshold{Percent: 10, Max: 500}

// GroupInput is a group to import or synchronize, read from its directory.
type GroupInput struct {
	// Cookie is the change-feed cookie that covers Read: stored with the
	// group, in the transaction that writes its membership, when the read
	// is complete (an incomplete one keeps the old cookie).
	Cookie []byte
	Read   *directory.GroupRead
	// Kept are external IDs of members the store holds whose directory
	// entries did not change (a read of the changes only): they stay
	// members, and are neither read nor journaled again.
	Kept []string
	// Departed, with Partial, are the external IDs of the members that
	// left the group (removed from it, or deleted) since its last read.
	Departed []string
	// Partial says Read.Members holds only the group's changed and new
	// members (a change feed's read): the members it does not name stay,
	// but for Departed.
	Partial bool
	// Unchanged says the directory's change feed shows nothing changed in
	// the group, its membership or its members since its cookie: only the
	// new cookie is written (Read holds the group alone).
	Unchanged bool
	// Deleted are external IDs of current store members that the directory
	// confirmed no longer exist: they are disabled (only when the read is
	// complete).
	Deleted []string
}

// Input is everything one import or sync takes in: entries read from one
// source, and the options.
type Input struct {
	Source  string
	Actor   string
	Command string
	// Mode is how the entries were read (ModeFull when empty).
	Mode Mode
	// Note says something about how the entries were read, for the run's
	// report (e.g. that a change feed refused its cookie and the groups
	// were read fully).
	Note string
	// Incomplete says why a read the input should have held broke off
	// (a change feed that could not be read whole): the run applies what
	// the input holds, removes and disables nothing, and ends incomplete.
	Incomplete string
	// Users are users selected for import.
	Users []directory.Entry
	// Groups are groups selected for import or synchronization, with their
	// members. Their members are imported too.
	Groups  []GroupInput
	Options Options
	// Expect, when not nil, are the groups as the input was read from the
	// store (their cookies and last synchronization), for an input read
	// while the store was not held (a watch reads its directory with the
	// store closed). Apply checks them in the transaction that starts the
	// run, before anything is written: a group that changed since, or is
	// gone, fails the apply with ErrStale and nothing is journaled.
	Expect []GroupMark
}

// GroupMark is a group imported from the input's source as it stood when
// an input was read: its external ID, change-feed cookie and last
// synchronization. Any sync or import that reads the group again changes
// one of them.
type GroupMark struct {
	ExternalID string
	Feed       []byte
	Synced     time.Time
}

// Mark is g's GroupMark.
func (g Group) Mark() GroupMark {
	return GroupMark{ExternalID: g.ExternalID, Feed: g.Feed, Synced: g.Synced}
}

func (in *Input) mode() Mode {
	if in.Mode == "" {
		return ModeFull
	}
	return in.Mode
}

// Progress reports how an apply is going, after each batch: Done of the
// Total entries (users and groups) known so far have been written.
type Progress struct {
	Done, Total int
	Counts      Counts
	Current     string // the last entry of the batch just written
}

package store

// SKELETON: the store helper replaces this file with the real implementation
// (store.go, users.go, rules.go, apply.go, journal.go ...). Signatures here are
// the contract the CLI and TUI code against; keep them.

import (
	"context"
	"errors"

	"github.com/usersync/usersync/directory"
	"time"
)

var errTODO = errors.New("not implemented yet")

// Store is the application's user store, one bbolt file.
type Store struct{}

// OpenOptions tune Open.
type OpenOptions struct {
	// LockTimeout is how long to wait for another process to release the
	// file before returning ErrInUse (default 1s).
	LockTimeout time.Duration
	// ReadOnly opens without the right to write.
	ReadOnly bool
	// BatchSize is the number of entries written per transaction (default 2000).
	BatchSize int
}

// Open opens the store at path, creating it (mode 0600, parent dirs 0700)
// and seeding default roles when missing. It migrates older schemas, marks
// runs left running by a dead process as interrupted, and returns ErrInUse,
// ErrNotStore or ErrNewerSchema (wrapped with a message for a person).
func Open(path string, opts *OpenOptions) (*Store, error) { return nil, errTODO }

// Close closes the file.
func (s *Store) Close() error { return errTODO }

// Path is the file the store lives in.
func (s *Store) Path() string { return "" }

// UserFilter narrows ListUsers.
type UserFilter struct {
	Kind   Kind   // "" for all
	Source string // "" for all
	Search string // case-insensitive substring of username, display name or email
}

// ListUsers returns users sorted by username, with Groups filled.
func (s *Store) ListUsers(f UserFilter) ([]User, error) { return nil, errTODO }

// GetUser returns one user by username (folded), with Groups filled.
func (s *Store) GetUser(username string) (User, error) { return User{}, errTODO }

// AddUser creates an internal user. Kind, Source and ExternalID are ignored.
// Roles with an empty scope get GlobalScope; unknown roles are ErrNotFound.
func (s *Store) AddUser(u User) (User, error) { return User{}, errTODO }

// SetUserEnabled enables or disables a user.
func (s *Store) SetUserEnabled(username string, enabled bool) error { return errTODO }

// DeleteUser removes a user and its memberships.
func (s *Store) DeleteUser(username string) error { return errTODO }

// ListGroups returns groups sorted by name, with Members filled.
func (s *Store) ListGroups() ([]Group, error) { return nil, errTODO }

// GetGroup returns one group by name (folded), with Members filled.
func (s *Store) GetGroup(name string) (Group, error) { return Group{}, errTODO }

// ListRoles returns the roles sorted by name.
func (s *Store) ListRoles() ([]Role, error) { return nil, errTODO }

// AddRole creates a role.
func (s *Store) AddRole(r Role) error { return errTODO }

// Assign grants a role on a scope to a user or, if no user has that name, a
// group. It is a no-op when already granted.
func (s *Store) Assign(principal string, a Assignment) error { return errTODO }

// Unassign withdraws an assignment; ErrNotFound when it was not held.
func (s *Store) Unassign(principal string, a Assignment) error { return errTODO }

// CopyAssignments grants to user `to` every assignment user `from` holds
// directly.
func (s *Store) CopyAssignments(from, to string) error { return errTODO }

// EffectiveRoles lists a user's assignments, its own and its groups'.
func (s *Store) EffectiveRoles(username string) ([]EffectiveAssignment, error) {
	return nil, errTODO
}

// ListRuns returns the journal's runs, newest first, without entries.
func (s *Store) ListRuns() ([]Run, error) { return nil, errTODO }

// GetRun returns one run with its entries.
func (s *Store) GetRun(id uint64) (Run, error) { return Run{}, errTODO }

// Plan evaluates the import rules for in without changing the store and
// returns the would-be run (status planned). An error in the plan itself
// (unknown role, unknown copy-from user) is returned as an error.
func (s *Store) Plan(ctx context.Context, in Input) (*Run, error) { return nil, errTODO }

// Apply evaluates the rules again and writes the result in batches, one
// write transaction per batch, journaling each entry's outcome in the same
// transaction. progress, if not nil, is called after every batch.
// Cancelling ctx stops between batches: the run is marked interrupted and
// finished batches stay. Exceeding the removal threshold without
// Options.Force returns ErrThreshold before anything is written.
func (s *Store) Apply(ctx context.Context, in Input, progress func(Progress)) (*Run, error) {
	return nil, errTODO
}

// State is how an entry found in a directory stands against the store: what
// selecting it in the wizard would do.
type State string

// The states of a search result.
const (
	StateNew             State = "new"              // Select to import
	StateImported        State = "imported"         // Select to synchronize
	StateBlockedInternal State = "blocked-internal" // an internal user has that name
	StateBlockedSource   State = "blocked-source"   // another source's user/group has that name
)

// Status is the state of one search result, with the reason shown for a
// blocked row (ReasonInternal, or "Username already taken by a user from
// <source>") and the store's name of the matching record, if any.
type Status struct {
	State    State
	Reason   string
	Existing string
}

// Classify tells, for each entry read from source, what importing it would
// do. It reads the store only.
func (s *Store) Classify(source string, entries []directory.Entry) ([]Status, error) {
	return nil, errTODO
}

// FieldDiff is one field of an entry that differs between directory and store.
type FieldDiff struct {
	Field     string // "username", "display_name", "email", "dn", "enabled"
	Directory string
	Store     string
}

// Diff lists the fields an import of e would change in the store record
// imported before from source; empty when nothing would change, ErrNotFound
// when e was never imported.
func (s *Store) Diff(source string, e directory.Entry) ([]FieldDiff, error) {
	return nil, errTODO
}

// Departed lists the external IDs of the store's members of the group read
// (matched by source and the group's external ID) that the read no longer
// lists. A sync asks the directory which of them still exist: those that do
// not are passed back as GroupInput.Deleted.
func (s *Store) Departed(source string, read *directory.GroupRead) ([]string, error) {
	return nil, errTODO
}

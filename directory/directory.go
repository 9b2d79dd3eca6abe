// Package directory defines what every user source says about its users and
// groups — LDAP servers and Entra ID tenants alike — and the Directory
// interface each adapter satisfies. It knows nothing of the store or the UI:
// it describes, it does not decide. The import rules live in package store.
package directory

import (
	"context"
	"errors"
	"fmt"
)

// Kind tells which family of source a directory is.
type Kind string

// The kinds of directory usersync can read.
const (
	KindLDAP  Kind = "ldap"
	KindEntra Kind = "entra"
)

// EntryType tells a user entry from a group entry.
type EntryType string

// The types of entry a directory returns.
const (
	TypeUser  EntryType = "user"
	TypeGroup EntryType = "group"
)

// Entry is one user or group as a directory describes it.
type Entry struct {
	Type EntryType
	// ExternalID is the immutable identifier (AD objectGUID in canonical
	// form, OpenLDAP entryUUID, FreeIPA ipaUniqueID, Entra object id). Never
	// the DN: DNs change on rename.
	ExternalID string
	// Name is the username of a user (uid, sAMAccountName, UPN prefix) or the
	// name of a group (cn, displayName).
	Name        string
	DisplayName string
	Email       string
	// DN is the entry's distinguished name (LDAP) or user principal name
	// (Entra), kept for display and diagnostics.
	DN string
	// Disabled is true when the directory marks the account disabled
	// (userAccountControl 0x2, nsAccountLock, accountEnabled=false).
	Disabled bool
	// Guest is true for Entra guest accounts (userType=Guest).
	Guest bool
	// MemberCount is the number of members a group reports, when the
	// directory knows it cheaply (-1 when unknown). Zero for users.
	MemberCount int
}

// GroupRead is the result of reading one group whole: the group, its
// members (users, nested groups already flattened) and whether the read was
// complete.
type GroupRead struct {
	Group   Entry
	Members []Entry
	// Nested are the external IDs of the groups nested in the group (at any
	// depth) whose members the read flattened into Members: a change to one
	// of them changes the group's membership.
	Nested []string
	// Incomplete is non-empty when part of the membership could not be read
	// (a timeout, a size limit, an unfollowed referral, an unfinished range,
	// a page that never arrived). It says why, for the run report. A caller
	// must not remove or disable anyone on the strength of an incomplete read.
	Incomplete string
}

// Complete reports whether the whole membership was read.
func (g *GroupRead) Complete() bool { return g.Incomplete == "" }

// Directory is a source of users and groups.
type Directory interface {
	// Name is the directory's configured name (e.g. "dc01", "contoso").
	Name() string
	// Kind tells LDAP from Entra.
	Kind() Kind
	// Search streams the users and groups matching query to fn as they
	// arrive. Plain text (with * wildcards) is escaped and matched against
	// the usual name attributes; text starting with "(" is a raw filter.
	// Returning an error from fn stops the search with that error.
	// Cancelling ctx abandons the search.
	Search(ctx context.Context, query string, fn func(Entry) error) error
	// ReadGroup reads a group and its transitive user members. A read that
	// could not be finished returns the members read so far with
	// GroupRead.Incomplete set (and a nil error) when the partial result is
	// still useful, or an error wrapping ErrIncomplete when it is not.
	ReadGroup(ctx context.Context, externalID string) (*GroupRead, error)
	// LookupUsers reads the users with the given external IDs; IDs the
	// directory does not know are absent from the result (deleted). An
	// error means nothing can be concluded about absent IDs.
	LookupUsers(ctx context.Context, externalIDs []string) (map[string]Entry, error)
	// Close releases the connection.
	Close() error
}

// ErrIncomplete marks a read that did not finish: callers must treat what
// they got as partial and never conclude that missing entries were deleted.
var ErrIncomplete = errors.New("directory read incomplete")

// IncompleteError says why a read is incomplete. It matches ErrIncomplete
// with errors.Is.
type IncompleteError struct {
	Reason string
	Err    error
}

func (e *IncompleteError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("read incomplete: %s: %v", e.Reason, e.Err)
	}
	return "read incomplete: " + e.Reason
}

// Unwrap lets errors.Is match both ErrIncomplete and the cause.
func (e *IncompleteError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrIncomplete, e.Err}
	}
	return []error{ErrIncomplete}
}

// ChangeFeed is a directory that can tell what changed since a cookie:
// RFC 4533 content synchronization on OpenLDAP, 389-DS and FreeIPA
// (syncprov), DirSync or uSNChanged on Active Directory, Graph delta
// queries on Entra ID. A sync that holds a cookie for its source reads only
// the changes; without one (or when the directory refuses it) it reads
// fully, taking a cookie first so that nothing changed during the full
// read is lost (the next changes repeat it; applying a state twice is
// harmless).
//
// An adapter whose directory turns out to have no feed (a server without
// content synchronization) says so with an error wrapping ErrNoFeed from
// both methods: the caller then reads fully every time.
type ChangeFeed interface {
	// FeedCookie returns a cookie for the directory as it is now, without
	// reading its entries' content. It is not free: LDAP receives every
	// entry's DN (1–2 s per 100,000 users), so take it once per full read.
	FeedCookie(ctx context.Context) ([]byte, error)
	// Changes returns what changed among the directory's users and groups
	// since cookie. It wraps ErrCookieRefused when the directory no longer
	// accepts the cookie (expired, from another server, taken under
	// another configuration, damaged, or empty): the caller then reads
	// fully. Any other error means the changes could not be read whole:
	// the caller applies none of them and keeps its cookie.
	Changes(ctx context.Context, cookie []byte) (*Changes, error)
}

// ChangeWatcher is a change feed that also tells, as they happen, that
// things changed: RFC 4533 refreshAndPersist on OpenLDAP, 389-DS and
// FreeIPA. It says only that something changed; what changed is read with
// Changes from the caller's cookie, so that the cookie stays with the
// changes it covers.
type ChangeWatcher interface {
	ChangeFeed
	// WatchChanges keeps a persistent search open, resuming from cookie
	// (a feed cookie; nil or a refused one: from now), and calls changed
	// whenever the directory reports a change — once at the start too if
	// anything changed since cookie — and live once the search has caught
	// up and waits for changes. It returns nil when ctx is done, an error
	// wrapping ErrNoFeed when the directory offers no persistent search
	// (poll Changes instead), and any other error when the search ended
	// (a lost connection, a directory restart): the caller reconnects.
	// The callbacks must not block.
	WatchChanges(ctx context.Context, cookie []byte, changed, live func()) error
}

// Changes is what changed in a directory since a cookie.
type Changes struct {
	// Cookie is where the next Changes resumes: it covers everything below.
	// When nothing changed it may be the cookie given.
	Cookie []byte
	// Entries are users and groups added or modified since the cookie, as
	// they are now (the attributes a Search maps), each once.
	Entries []Entry
	// Members holds, for every group among Entries, the external IDs of
	// its direct members now (users and nested groups), when the directory
	// sends the whole list (LDAP: a group comes whole whatever changed in
	// it, so its list is here even when only its name changed). Members
	// a full read would not take either (outside the configured bases, or
	// naming no entry) are left out.
	Members map[string][]string
	// MembersAdded and MembersRemoved hold, by group external ID, the direct
	// members added and removed since the cookie, when the directory sends
	// membership as deltas (Entra's members@delta).
	MembersAdded, MembersRemoved map[string][]string
	// Deleted are the external IDs of users and groups deleted since the
	// cookie (syncrepl delete states or syncIdSet, DirSync isDeleted,
	// Graph @removed), or that no longer match what the directory's
	// configuration reads (moved out of the base, no longer of the user or
	// group class). A deleted entry also leaves every group that listed
	// it, and the directory may not report those groups as changed
	// (OpenLDAP's refint overlay removes the member value without touching
	// the group's change sequence number): the caller removes deleted IDs
	// from the memberships it holds itself. IDs the caller does not hold
	// are to be ignored.
	Deleted []string
	// Present, when not nil, is every external ID still in the feed's scope:
	// the directory answered with its present phase rather than with
	// deletions, so whatever the caller holds that is not present was
	// deleted (and leaves its groups, as for Deleted). Every ID among
	// Entries is present. A present set costs O(directory size) to read:
	// Reads counts it.
	Present map[string]bool
	// Reread are the external IDs of groups whose membership the changes
	// cannot tell: on Active Directory, a group that is some user's
	// primary group (primaryGroupID, never listed in member) and changed,
	// or became the primary group of a changed user. A caller holding one
	// reads it whole.
	Reread []string
	// Reads counts the entries (and ID-only states) the directory sent, for
	// the run's report: an incremental read costs O(changes), plus the
	// lookups of the members of changed groups.
	Reads int
	// Via says how the feed read the changes when the directory offers
	// more than one way (Active Directory: "DirSync", or "uSNChanged on
	// DC …" and why not DirSync), for the run's note; "" otherwise.
	Via string
}

// ErrCookieRefused marks a change-feed cookie the directory no longer
// accepts (e-syncRefreshRequired, a DirSync cookie rejected, Graph 410
// Gone / syncStateNotFound): read fully, and take a new cookie.
var ErrCookieRefused = errors.New("change feed cookie refused")

// ErrNoFeed marks a directory that offers no change feed (an LDAP server
// without RFC 4533 content synchronization, such as OpenLDAP without the
// syncprov overlay), or whose feed cannot name entries by the external IDs
// usersync keeps: read fully every time. The error says which.
var ErrNoFeed = errors.New("directory offers no change feed")

// Presence reports whether the changes came with a present phase (Present
// lists every external ID still in scope).
func (c *Changes) Presence() bool { return c.Present != nil }

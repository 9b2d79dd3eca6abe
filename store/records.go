package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// ErrCorrupt marks a damaged store: a record that fails its checksum or
// does not decode, an index or count that disagrees with the records, or
// pages bbolt cannot trust. Reads and writes return it instead of guessing
// or panicking, writes refuse a store that has it, and (*Store).Verify and
// VerifyFile list every such problem.
var ErrCorrupt = errors.New("store is damaged")

// restoreAdvice ends every message about a damaged store.
const restoreAdvice = "Restore the file from a backup, and run 'usersync store check' to list every problem"

// Every value a schema-2 store keeps — records, index entries, memberships,
// counts — ends with a seal: the CRC-32C (Castagnoli) of the key's length
// (4 bytes, big-endian), the key and the value, appended big-endian. CRC-32C
// detects every error of up to three flipped bits in values of the sizes
// the store keeps, and Go computes it with the CPU's CRC instruction. The
// key is covered so that a flipped bit in a key, or a key and value whose
// boundary moved, is caught too. Schema-1 stores have no seals.

// sealSize is the length of the seal.
const sealSize = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sealSum is the checksum of value v stored under key k.
func sealSum(k, v []byte) uint32 {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(k)))
	sum := crc32.Update(0, castagnoli, n[:])
	sum = crc32.Update(sum, castagnoli, k)
	return crc32.Update(sum, castagnoli, v)
}

// seal returns v followed by its seal under key k.
func seal(k, v []byte) []byte {
	out := make([]byte, len(v)+sealSize)
	copy(out, v)
	binary.BigEndian.PutUint32(out[len(v):], sealSum(k, v))
	return out
}

// unseal checks the seal of a value stored under key k and returns the
// value without it; ok is false when the seal does not hold.
func unseal(k, stored []byte) (v []byte, ok bool) {
	if len(stored) < sealSize {
		return nil, false
	}
	v = stored[:len(stored)-sealSize]
	return v, binary.BigEndian.Uint32(stored[len(v):]) == sealSum(k, v)
}

// corruption is the panic with which the key-value layer abandons a
// transaction that met a damaged value (a lookup has no error to return);
// the transaction guard turns it back into err.
type corruption struct{ err error }

// damagedValue abandons the transaction: the value under k in bucket b
// fails its seal.
func damagedValue(b bucketID, k []byte) {
	panic(corruption{fmt.Errorf("%w: %s fails its checksum", ErrCorrupt, describeKey(b, k))})
}

// describeKey names the entry under key k of bucket b for a person: "user
// 17", "username index entry \"bob\"", "membership of user 3 in group 2".
func describeKey(b bucketID, k []byte) string {
	id := func(k []byte) string { return describeID(k) }
	switch b {
	case bUsers:
		return "user " + id(k)
	case bGroups:
		return "group " + id(k)
	case bRuns:
		return "run " + id(k)
	case bRunEntries:
		return "journal entry " + id(k)
	case bMembers:
		if len(k) == 16 {
			return fmt.Sprintf("membership of user %s in group %s", id(k[8:]), id(k[:8]))
		}
	case bMemberOf:
		if len(k) == 16 {
			return fmt.Sprintf("membership of user %s in group %s", id(k[:8]), id(k[8:]))
		}
	case bCounts:
		if len(k) == 9 && k[0] == countMembers {
			return "the count of group " + id(k[1:]) + "'s members"
		}
		if len(k) == 9 && k[0] == countGroupsOf {
			return "the count of user " + id(k[1:]) + "'s groups"
		}
	}
	return fmt.Sprintf("%s entry %q", bucketNames[b], k)
}

// describeID shows an 8-byte id key as a number, anything else in hex.
func describeID(k []byte) string {
	if len(k) == 8 {
		return fmt.Sprint(binary.BigEndian.Uint64(k))
	}
	return fmt.Sprintf("%x", k)
}

// userRec is a user as stored in the users bucket. Times are Unix
// nanoseconds (cheaper to encode and decode than RFC 3339 text).
type userRec struct {
	Username    string       `json:"username"`
	DisplayName string       `json:"display_name,omitempty"`
	Email       string       `json:"email,omitempty"`
	Kind        Kind         `json:"kind"`
	Source      string       `json:"source,omitempty"`
	ExternalID  string       `json:"external_id,omitempty"`
	DN          string       `json:"dn,omitempty"`
	Enabled     bool         `json:"enabled"`
	Guest       bool         `json:"guest,omitempty"`
	Roles       []Assignment `json:"roles,omitempty"`
	Created     int64        `json:"created"`
	Synced      int64        `json:"synced,omitempty"`
	Modified    int64        `json:"modified"`
	// Linked is set on a user who existed before and was linked to a
	// directory entry by email: the username stays the application's, and
	// later refreshes never rename it.
	Linked bool `json:"linked,omitempty"`
}

// groupRec is a group as stored in the groups bucket.
type groupRec struct {
	Name       string       `json:"name"`
	Kind       Kind         `json:"kind"`
	Source     string       `json:"source,omitempty"`
	ExternalID string       `json:"external_id,omitempty"`
	DN         string       `json:"dn,omitempty"`
	Roles      []Assignment `json:"roles,omitempty"`
	Created    int64        `json:"created"`
	Synced     int64        `json:"synced,omitempty"`
	Import     *GroupImport `json:"import,omitempty"`
	// Feed is the change-feed cookie of the group's last complete read,
	// written in the transaction of the membership it covers; Nested are
	// the groups that read flattened into its members.
	Feed   []byte   `json:"feed,omitempty"`
	Nested []string `json:"nested,omitempty"`
}

// runRec is a run header as stored in the runs bucket: the run without its
// entries, plus the options it ran with.
type runRec struct {
	Started  int64     `json:"started"`
	Finished int64     `json:"finished,omitempty"`
	Actor    string    `json:"actor"`
	Source   string    `json:"source"`
	Command  string    `json:"command"`
	Status   RunStatus `json:"status"`
	Mode     Mode      `json:"mode,omitempty"`
	Note     string    `json:"note,omitempty"`
	Error    string    `json:"error,omitempty"`
	Counts   Counts    `json:"counts"`
	Entries  int       `json:"entries"`
	Options  *Options  `json:"options,omitempty"`
}

func encode(v any) []byte {
	switch r := v.(type) {
	case *userRec:
		return r.appendJSON(make([]byte, 0, 320))
	case *RunEntry:
		return r.appendJSON(make([]byte, 0, 96))
	}
	b, err := json.Marshal(v)
	if err != nil {
		// The record types hold only strings, numbers and booleans.
		panic(fmt.Sprintf("store: encoding %T: %v", v, err))
	}
	return b
}

// decodeUser decodes a user record; it never panics, and a record that is
// not a user's is an error wrapping ErrCorrupt.
func decodeUser(b []byte) (*userRec, error) {
	u := new(userRec)
	if err := json.Unmarshal(b, u); err != nil {
		return nil, fmt.Errorf("%w: user: %v", ErrCorrupt, err)
	}
	if err := u.valid(); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *userRec) valid() error {
	switch {
	case u.Username == "":
		return fmt.Errorf("%w: user without a username", ErrCorrupt)
	case u.Kind != Internal && u.Kind != External:
		return fmt.Errorf("%w: user %q has kind %q", ErrCorrupt, u.Username, u.Kind)
	case u.Kind == External && (u.Source == "" || u.ExternalID == ""):
		return fmt.Errorf("%w: external user %q without source or external ID", ErrCorrupt, u.Username)
	}
	return nil
}

// decodeGroup decodes a group record; it never panics.
func decodeGroup(b []byte) (*groupRec, error) {
	g := new(groupRec)
	if err := json.Unmarshal(b, g); err != nil {
		return nil, fmt.Errorf("%w: group: %v", ErrCorrupt, err)
	}
	switch {
	case g.Name == "":
		return nil, fmt.Errorf("%w: group without a name", ErrCorrupt)
	case g.Kind != Internal && g.Kind != External:
		return nil, fmt.Errorf("%w: group %q has kind %q", ErrCorrupt, g.Name, g.Kind)
	case g.Kind == External && (g.Source == "" || g.ExternalID == ""):
		return nil, fmt.Errorf("%w: external group %q without source or external ID", ErrCorrupt, g.Name)
	}
	return g, nil
}

// decodeRole decodes a role record; it never panics.
func decodeRole(b []byte) (Role, error) {
	var r Role
	if err := json.Unmarshal(b, &r); err != nil {
		return Role{}, fmt.Errorf("%w: role: %v", ErrCorrupt, err)
	}
	if r.Name == "" {
		return Role{}, fmt.Errorf("%w: role without a name", ErrCorrupt)
	}
	return r, nil
}

// decodeRun decodes a run header; it never panics.
func decodeRun(b []byte) (*runRec, error) {
	r := new(runRec)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%w: run: %v", ErrCorrupt, err)
	}
	switch r.Status {
	case RunPlanned, RunRunning, RunCompleted, RunIncomplete, RunFailed, RunInterrupted:
	default:
		return nil, fmt.Errorf("%w: run with status %q", ErrCorrupt, r.Status)
	}
	return r, nil
}

// decodeEntry decodes a journal entry; it never panics.
func decodeEntry(b []byte) (RunEntry, error) {
	var e RunEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return RunEntry{}, fmt.Errorf("%w: run entry: %v", ErrCorrupt, err)
	}
	return e, nil
}

// unixTime turns stored nanoseconds back into a time (zero stays zero).
func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (u *userRec) user() User {
	return User{
		Username: u.Username, DisplayName: u.DisplayName, Email: u.Email,
		Kind: u.Kind, Source: u.Source, ExternalID: u.ExternalID, DN: u.DN,
		Enabled: u.Enabled, Guest: u.Guest,
		Roles:   nonNil(u.Roles),
		Groups:  []string{},
		Created: unixTime(u.Created), Synced: unixTime(u.Synced), Modified: unixTime(u.Modified),
	}
}

func (g *groupRec) group() Group {
	return Group{
		Name: g.Name, Kind: g.Kind, Source: g.Source, ExternalID: g.ExternalID, DN: g.DN,
		Members: []string{},
		Roles:   nonNil(g.Roles),
		Created: unixTime(g.Created), Synced: unixTime(g.Synced),
		Import: g.Import, Feed: g.Feed, Nested: g.Nested,
	}
}

func (r *runRec) run(id uint64) Run {
	mode := r.Mode
	if mode == "" {
		mode = ModeFull
	}
	return Run{
		ID: id, Started: unixTime(r.Started), Finished: unixTime(r.Finished),
		Actor: r.Actor, Source: r.Source, Command: r.Command, Status: r.Status, Mode: mode, Note: r.Note,
		Error: r.Error, Counts: r.Counts, Entries: []RunEntry{},
		ReadIncomplete: r.Status == RunIncomplete,
	}
}

// nonNil makes JSON print [] rather than null for empty lists.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return append([]T(nil), s...)
}

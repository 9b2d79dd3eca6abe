// Package store is the application's user store — users, groups, roles,
// role assignments, group memberships and the journal of imports — kept in
// one bbolt file, and the import rules: what happens to a user or group
// read from a directory when it is imported or synchronized.
//
// The rules exist once, here, and serve the TUI, the CLI, sync and SSH
// sessions alike. One run engine runs them: Plan says what an import would
// do without changing anything, and Apply (entries given as a list) or
// ApplyStream (entries arriving from a search) does it through one
// journaled run writer, in batches of one write transaction each,
// journaling every entry's outcome in the same transaction as the change,
// with one removal-threshold policy and one meaning of progress. Classify
// (what selecting a search result would do) and Diff (what it would change)
// are read off the same rules, run dry for one entry. A batch is wholly
// written or not at all, whether the process is cancelled, crashes or is
// killed; re-running the same import finishes it. A run whose directory
// read was incomplete ends "incomplete" and removes or disables nothing.
//
// Usernames, group names and role names are unique after Fold (Unicode
// NFKC and case folding): "AAndrei" and "aandrei" are one name. Users are
// found by folded name, by (source, external ID) and by folded email
// through bbolt indexes, never by scanning.
//
// The package does not talk to directories (package directory and its
// adapters read them, package importer reads what a request names) and
// knows nothing of the user interface. A Run's JSON (MarshalJSON) is the
// CLI contract's run object.
//
// One process at a time holds a store to write: Open takes bbolt's
// exclusive file lock and reports ErrInUse after OpenOptions.LockTimeout.
// Stores opened read-only share the file and never change it.
//
// A damaged file is never believed. Open checks the page structure before
// bbolt reads it; every value carries a checksum and every list a count
// that reads check, so a read that meets damage returns ErrCorrupt rather
// than panicking or returning part of the data; the first write of a Store
// is preceded by a check of the whole file, and a store found damaged is
// not written. Those checks are spared only for a file whose every page in
// use still has the sum kept (beside it, in path + ".sums") for a state
// found sound or written from one: that file is that state. Verify and
// VerifyFile report everything they find, whatever the sums say; Backup
// writes a checked copy.
package store

// Package store is the application's user store — users, groups, roles,
// role assignments, group memberships and the journal of imports — kept in
// one bbolt file, and the import rules: what happens to a user or group
// read from a directory when it is imported or synchronized.
//
// The rules exist once, here, and serve the TUI, the CLI, sync and SSH
// sessions alike: Classify says what selecting a search result would do,
// Plan says what an import would do without changing anything, and Apply
// does it, in batches of one write transaction each, journaling every
// entry's outcome in the same transaction as the change. A batch is wholly
// written or not at all, whether the process is cancelled, crashes or is
// killed; re-running the same import finishes it.
//
// Usernames, group names and role names are unique after Fold (Unicode
// NFKC and case folding): "AAndrei" and "aandrei" are one name. Users are
// found by folded name, by (source, external ID) and by folded email
// through bbolt indexes, never by scanning.
//
// The package does not talk to directories (package directory and its
// adapters read them; ReadGroup is the one bridge, and it only calls the
// Directory interface) and knows nothing of the user interface.
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
// not written. Verify and VerifyFile report everything they find; Backup
// writes a checked copy.
package store

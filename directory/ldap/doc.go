// Package ldap reads users and groups from LDAP servers — OpenLDAP, Active
// Directory and FreeIPA — for usersync, through github.com/go-ldap/ldap/v3
// and, for paged searches, a small client of its own that decodes entries
// in place from one reused buffer (bulk.go, wire.go).
//
// Open connects, secures and binds; the returned *Directory satisfies
// directory.Directory. Test runs the same steps one by one for `usersync
// directories test`. The package only describes what a server says: it
// never decides what to import, and it never reports a partial read as a
// whole one — a read cut short by a timeout, a dropped connection, a size or
// time limit, an unfollowed referral or an unfinished ranged attribute is
// marked incomplete (directory.ErrIncomplete, GroupRead.Incomplete).
//
// Where the server offers RFC 4533 content synchronization (OpenLDAP's
// syncprov overlay, 389-DS, FreeIPA), *Directory is also a
// directory.ChangeFeed: FeedCookie and Changes read only what changed
// since a cookie (feed.go says how, and what slapd sends).
//
// It is not a general LDAP client: it requests only the attributes it maps
// and never writes to the directory.
package ldap

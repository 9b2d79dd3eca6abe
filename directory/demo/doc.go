// Package demo is usersync's sample LDAP directory and demo store: what
// `usersync demo` runs, and what tests use when they need a real LDAP server
// without slapd.
//
// StartLDAP serves a directory in this process on a loopback port, speaking
// real LDAP (through github.com/jimlambrt/gldap) to real clients such as
// package directory/ldap: simple bind against one service account,
// StartTLS (or ldaps://) with a CA made for the occasion and written to a
// file for ca_file, searches with full filter evaluation (and, or, not,
// equality, substrings, ordering, presence, approximate and extensible
// matches, including Active Directory's in-chain rule), base, one-level and
// subtree scopes, requested-attribute selection, size limits and the
// paged-results control. It keeps memberOf as OpenLDAP's memberof overlay
// does, and marks a disabled account as the openldap flavor reads it
// (pwdAccountLockedTime).
//
// SampleData is the directory dc01 of the demo: a few hundred office
// people, twenty groups of them, and the group Retail of three thousand
// store staff (two of whose usernames the store refuses), the same on
// every run. Options.Latency paces large answers as a distant server
// would, so that reading Retail takes a while. The package knows nothing
// of the store: package demo (above store) seeds the demo's store from it.
//
// It is not a general LDAP server: it holds a fixed set of entries, never
// writes (add, modify and delete are refused), has no schema (every value
// compares case-insensitively, DN-valued attributes as DNs), and does not
// split large attributes into ranges (member;range=… is not answered;
// members are sent whole, as OpenLDAP does). It is far slower than slapd:
// measure nothing against it. The demo's Entra tenant is
// directory/entra/graphtest.
package demo

// Package demo is `usersync demo`: the sample directories started inside
// the process on loopback (the LDAP server dc01 from directory/demo and the
// Entra tenant contoso from directory/entra/graphtest), the configuration
// file that names them, and a store seeded with roles, internal users and
// one real earlier import (Seed, through package importer and the store's
// rules), so that searching an* in the wizard shows every kind of row.
//
// It sits above store and importer; the directories it serves know
// nothing of the store. cmd/usersync keeps only the command.
package demo

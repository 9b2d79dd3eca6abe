// Package demo is `usersync demo`: the sample directories started inside
// the process on loopback (the LDAP server dc01 from directory/demo and the
// Entra tenant contoso from directory/entra/graphtest), the configuration
// file that names them, and a store seeded with roles, internal users and
// one real earlier import (Seed, through package importer and the store's
// rules), so that searching an* in the wizard shows every kind of row.
// dc01 answers at a distant server's pace (Latency) and `usersync demo`
// opens its store with StoreOptions (small, paced batches), so that
// importing the group Retail — 3000 members, two of whom fail — takes long
// enough to watch the progress view and to cancel it.
//
// It sits above store and importer; the directories it serves know
// nothing of the store. cmd/usersync keeps only the command.
package demo

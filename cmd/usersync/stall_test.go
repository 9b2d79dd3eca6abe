package main

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// A directory server that stops answering in the middle of a sync (slapd
// frozen with SIGSTOP: the connection stays open, nothing comes back) must
// not hold the process, and the store's lock, past the timeout: the sync
// ends soon after, fails, removes and disables nobody, and is journaled.
func TestSync_StalledServerEndsInTimeAndRemovesNothing(t *testing.T) {
	slapdtest.Require(t)
	const members = 1500
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	dns := data.AddUsers(members, "m", "")
	data.AddGroup(slapdtest.Group{CN: "Big", Members: dns})
	// Without memberOf the members are resolved 100 per search: the read
	// has many requests ahead of it when the server stops.
	srv := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: true})
	t.Cleanup(func() { _ = srv.Resume() })
	// The proxy lets the test stop the server at an exact point of the read.
	p := slapdtest.NewProxy(t, srv.Addr, slapdtest.ProxyOptions{})

	const timeout = 2 * time.Second
	e := newEnv(t)
	e.useLDAP(srv, ldapSection("dc01", p.URL, srv, "page_size = 100", fmt.Sprintf("timeout = %q", timeout.String())))

	e.ok("import", "ldap", "--server", "dc01", "--query", "Big", "--enable", "--yes")
	var g groupJSON
	e.jsonOf(&g, "groups", "show", "Big", "--json")
	if len(g.Members) != members {
		t.Fatalf("imported Big has %d members, want %d", len(g.Members), members)
	}

	// The server stops once the sync has read 300 entries.
	var pausedAt atomic.Int64
	at := p.Entries() + 300
	p.OnEntry(func(count int) {
		if count == at {
			pausedAt.Store(time.Now().UnixNano())
			if err := srv.Pause(); err != nil {
				t.Error(err)
			}
		}
	})
	// --force takes away the threshold's safety net: only the read being
	// known incomplete keeps the members the sync did not get to.
	r := e.run("sync", "Big", "--yes", "--force", "--json")
	ended := time.Now()
	if pausedAt.Load() == 0 {
		t.Fatalf("the server was never stopped (sync exit %d)\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	took := ended.Sub(time.Unix(0, pausedAt.Load()))
	t.Logf("sync ended %s after the server stopped: exit %d\nstderr: %s", took.Round(time.Millisecond), r.code, r.stderr)
	if limit := timeout + 5*time.Second; took > limit {
		t.Errorf("sync ended %s after the server stopped; want at most %s (timeout %s)", took.Round(time.Millisecond), limit, timeout)
	}
	if r.code == 0 {
		t.Errorf("sync against a server that stopped answering exited 0\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	if want := "dc01 did not answer for 2s (timeout)"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
	}

	// The store is free at once (the lock went with the process), and
	// nothing was removed or disabled.
	var runs []runJSON
	e.jsonOf(&runs, "runs", "list", "--json")
	if len(runs) != 2 || !strings.Contains(runs[0].Command, "sync") {
		t.Fatalf("runs = %+v, want the import and then the sync journaled", runs)
	}
	if last := runs[0]; last.Status == "completed" || last.Counts.Removed != 0 || last.Counts.Disabled != 0 {
		t.Errorf("the stalled sync is journaled as %q with %+v; want it not completed, nothing removed or disabled", last.Status, last.Counts)
	}
	e.jsonOf(&g, "groups", "show", "Big", "--json")
	if len(g.Members) != members {
		t.Errorf("after the stalled sync Big has %d members, want all %d", len(g.Members), members)
	}
	users := usersByName(t, e)
	if len(users) != members {
		t.Errorf("%d users after the stalled sync, want %d", len(users), members)
	}
	for name, u := range users {
		if !u.Enabled {
			t.Errorf("the stalled sync disabled %s", name)
		}
	}
}

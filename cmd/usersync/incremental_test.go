package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// feedDirectory is a slapd with the syncprov overlay (a session log, so
// that deletions come as deletions), 300 users in two groups.
func feedDirectory(t *testing.T) (*slapdtest.Server, map[string]string) {
	t.Helper()
	slapdtest.Require(t)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	dns := map[string]string{}
	var sales, support []string
	for i := range 300 {
		uid := fmt.Sprintf("p%03d", i)
		dn := data.AddUser(slapdtest.User{UID: uid, CN: "Person " + uid, Mail: uid + "@example.com"})
		dns[uid] = dn
		if i < 200 {
			sales = append(sales, dn)
		} else {
			support = append(support, dn)
		}
	}
	dns["Sales"] = data.AddGroup(slapdtest.Group{CN: "Sales", Members: sales})
	dns["Support"] = data.AddGroup(slapdtest.Group{CN: "Support", Members: support})
	srv := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 1000}})
	return srv, dns
}

func configureFeed(e *env, srv *slapdtest.Server) {
	e.useLDAP(srv, ldapSection("dc01", srv.URL, srv, `timeout = "5s"`, "[ldap.attributes]", `disabled = "employeeType"`))
}

// TestSync_ReadsOnlyWhatChanged: after a full sync, the next one reads the
// change feed: a changed mail, a member added and one removed, a user
// disabled and one deleted are applied, with mode "incremental"; role
// assignments stay; --full reads everything again and agrees.
func TestSync_ReadsOnlyWhatChanged(t *testing.T) {
	srv, dns := feedDirectory(t)
	e := newEnv(t)
	configureFeed(e, srv)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Sales", "--enable", "--yes")
	e.ok("import", "ldap", "--server", "dc01", "--query", "Support", "--enable", "--yes")
	e.ok("roles", "assign", "p001", "Editor")

	// The first sync reads fully and takes a cookie.
	first := runOf(t, e.ok("sync", "--all", "--yes", "--json"))
	if first.Mode != "full" {
		t.Fatalf("first sync: mode %q, want full", first.Mode)
	}

	srv.Modify(t, dns["p001"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"p001@new.example.com"}) })
	srv.Modify(t, dns["Sales"], func(m *goldap.ModifyRequest) {
		m.Add("member", []string{dns["p250"]})
		m.Delete("member", []string{dns["p002"]})
	})
	srv.Modify(t, dns["p003"], func(m *goldap.ModifyRequest) { m.Replace("employeeType", []string{"TRUE"}) })
	srv.Delete(t, dns["p004"])
	srv.Delete(t, dns["p205"]) // in Support, which refint edits without the feed seeing it

	r := e.run("sync", "--all", "--yes", "--json")
	runs := jsonLines(t, r.stdout)
	if r.code != exitOK || len(runs) != 1 {
		t.Fatalf("incremental sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	run := runs[0]
	if run.Mode != "incremental" || run.Status != "completed" {
		t.Fatalf("second sync: %+v", run)
	}
	if len(run.Entries) > 30 {
		t.Errorf("an incremental sync journaled %d entries for 4 changes", len(run.Entries))
	}
	users := usersByName(t, e)
	if u := users["p001"]; u.Email != "p001@new.example.com" || !hasRole(u, "Editor", "global") {
		t.Errorf("p001 after the sync: %+v", u)
	}
	if u := users["p003"]; u.Enabled {
		t.Errorf("p003 is disabled in the directory but enabled in the store: %+v", u)
	}
	if u := users["p004"]; u.Enabled {
		t.Errorf("p004 was deleted in the directory but is enabled in the store: %+v", u)
	}
	var sales groupJSON
	e.jsonOf(&sales, "groups", "show", "Sales", "--json")
	has := map[string]bool{}
	for _, m := range sales.Members {
		has[m] = true
	}
	if !has["p250"] || has["p002"] || has["p004"] || len(sales.Members) != 199 {
		t.Errorf("Sales after the sync: %d members, p250 %v, p002 %v, p004 %v", len(sales.Members), has["p250"], has["p002"], has["p004"])
	}

	var support groupJSON
	e.jsonOf(&support, "groups", "show", "Support", "--json")
	for _, m := range support.Members {
		if m == "p205" {
			t.Errorf("p205 was deleted in the directory but is still in Support (%d members)", len(support.Members))
		}
	}
	if u := users["p205"]; u.Enabled || len(support.Members) != 99 {
		t.Errorf("p205 after its deletion: %+v; Support has %d members, want 99", u, len(support.Members))
	}

	// Nothing changed since: the next sync changes nothing.
	again := runOf(t, e.ok("sync", "--all", "--yes", "--json"))
	if again.Mode != "incremental" || again.Counts.Created+again.Counts.Updated+again.Counts.Removed+again.Counts.Disabled != 0 {
		t.Errorf("a sync with nothing changed: %+v", again.Counts)
	}
	// A full read agrees with what the feed applied: the drift audit
	// finds nothing to do.
	audit := runOf(t, e.ok("sync", "--all", "--full", "--json"))
	if audit.Mode != "full" || audit.Counts.Created+audit.Counts.Updated+audit.Counts.Removed+audit.Counts.Disabled != 0 {
		t.Errorf("drift audit after incremental syncs: %+v\n%v", audit.Counts, audit.Entries)
	}
	text := e.ok("sync", "Sales", "--yes").stdout
	if !strings.Contains(text, "(incremental read)") || !strings.Contains(text, "read incrementally") {
		t.Errorf("the text report does not say how the sync read:\n%s", text)
	}
}

// TestSync_RefusedCookieReadsFullyAndSaysSo: a cookie the directory refuses
// (here: from another server, which slapd answers with
// e-syncRefreshRequired) makes the sync read fully by itself, and the run
// says why; the sync after it reads incrementally again.
func TestSync_RefusedCookieReadsFullyAndSaysSo(t *testing.T) {
	srv, _ := feedDirectory(t)
	e := newEnv(t)
	configureFeed(e, srv)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Support", "--enable", "--yes")
	e.ok("sync", "Support", "--yes") // takes a cookie from srv

	// dc01 is moved to another server with the same entries.
	slapdtest.Require(t)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	var support []string
	for i := 200; i < 300; i++ {
		uid := fmt.Sprintf("p%03d", i)
		support = append(support, data.AddUser(slapdtest.User{UID: uid, CN: "Person " + uid, Mail: uid + "@example.com"}))
	}
	data.AddGroup(slapdtest.Group{CN: "Support", Members: support})
	other := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 1000, ReloadHint: true}})
	configureFeed(e, other)

	run := runOf(t, e.ok("sync", "Support", "--yes", "--json"))
	if run.Mode != "full" || !strings.Contains(run.Note, "read fully") || run.Status != "completed" {
		t.Fatalf("sync with a refused cookie: %+v", run)
	}
	again := runOf(t, e.ok("sync", "Support", "--yes", "--json"))
	if again.Mode != "incremental" {
		t.Errorf("the sync after the full read: mode %q, note %q", again.Mode, again.Note)
	}
}

// TestSync_KilledIncrementalSyncConverges: an incremental sync killed with
// SIGKILL at different instants, then run again, leaves the store as a full
// read of the directory would: the drift audit finds nothing to change.
func TestSync_KilledIncrementalSyncConverges(t *testing.T) {
	srv, dns := feedDirectory(t)
	e := newEnv(t)
	configureFeed(e, srv)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Sales", "--enable", "--yes")
	e.ok("sync", "Sales", "--yes") // the cookie
	for round, delay := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond} {
		// Changes in this round: mails, a member out, a member in.
		for i := range 40 {
			uid := fmt.Sprintf("p%03d", i+round*40)
			srv.Modify(t, dns[uid], func(m *goldap.ModifyRequest) {
				m.Replace("mail", []string{fmt.Sprintf("%s.r%d@example.com", uid, round)})
			})
		}
		srv.Modify(t, dns["Sales"], func(m *goldap.ModifyRequest) {
			m.Delete("member", []string{dns[fmt.Sprintf("p%03d", 199-round)]})
			m.Add("member", []string{dns[fmt.Sprintf("p%03d", 200+round)]})
		})
		cmd := exec.Command(binary, "sync", "Sales", "--yes")
		cmd.Env = append(os.Environ(), "USERSYNC_STORE="+e.store, "USERSYNC_CONFIG="+e.config, "NO_COLOR=1")
		cmd.Env = append(cmd.Env, e.extra...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		e.ok("store", "check")
		e.ok("sync", "Sales", "--yes")
		audit := runOf(t, e.ok("sync", "Sales", "--full", "--json"))
		if c := audit.Counts; c.Created+c.Updated+c.Removed+c.Disabled != 0 {
			t.Fatalf("round %d (killed after %v): a full read would still change %+v: %v", round, delay, c, audit.Entries)
		}
	}
}

// TestSync_WatchAppliesChangesAsTheyCome: sync --all --watch keeps running,
// applies a change made in slapd while it runs, leaves the
// store to other commands between rounds, journals nothing for quiet
// rounds, and stops on SIGTERM with exit 0.
func TestSync_WatchAppliesChangesAsTheyCome(t *testing.T) {
	srv, dns := feedDirectory(t)
	e := newEnv(t)
	configureFeed(e, srv)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Support", "--enable", "--yes")
	e.ok("sync", "Support", "--yes") // the cookie

	cmd := exec.Command(binary, "sync", "--all", "--watch", "--interval", "300ms", "--json")
	cmd.Env = append(os.Environ(), "USERSYNC_STORE="+e.store, "USERSYNC_CONFIG="+e.config, "NO_COLOR=1")
	cmd.Env = append(cmd.Env, e.extra...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(time.Second) // a few quiet rounds

	srv.Modify(t, dns["p250"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"p250@watched.example.com"}) })
	changed := time.Now()
	var seen time.Duration
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r := e.run("users", "show", "p250", "--json")
		if r.code == 0 && strings.Contains(r.stdout, "p250@watched.example.com") {
			seen = time.Since(changed)
			break
		}
	}
	if seen == 0 {
		t.Fatalf("the change never reached the store\nstdout %s\nstderr %s", stdout.String(), stderr.String())
	}
	// How fast is a benchmark's business (BenchmarkWatchLatency); here the
	// change only has to arrive while the watch runs.
	t.Logf("the change was in the store %v after it was made in slapd", seen)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the watch did not stop cleanly on SIGTERM: %v\n%s", err, stderr.String())
	}
	runs := jsonLines(t, stdout.String())
	if len(runs) != 1 || runs[0].Mode != "incremental" || runs[0].Counts.Updated != 1 {
		t.Errorf("the watch journaled %d runs, want the one that applied the change: %+v", len(runs), runs)
	}
}

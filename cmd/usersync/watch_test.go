package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap/slapdtest"
	"github.com/usersync/usersync/store"
)

// lockedBuffer is an output a running process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWatch starts `usersync sync --all --watch --json` in e; stop sends
// SIGTERM and checks that it ends with exit 0.
func startWatch(t *testing.T, e *env, args ...string) (stdout, stderr *lockedBuffer, stop func()) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"sync", "--all", "--watch", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), "USERSYNC_STORE="+e.store, "USERSYNC_CONFIG="+e.config, "NO_COLOR=1")
	cmd.Env = append(cmd.Env, e.extra...)
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("the watch did not stop cleanly on SIGTERM: %v\n%s", err, stderr.String())
			}
		})
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return stdout, stderr, stop
}

// waitForMail waits until user's mail in the store is mail.
func waitForMail(t *testing.T, e *env, user, mail string, within time.Duration, stderr *lockedBuffer) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		r := e.run("users", "show", user, "--json")
		if r.code == 0 && strings.Contains(r.stdout, mail) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s's new mail %s never reached the store within %v\nwatch stderr:\n%s", user, mail, within, stderr.String())
	return 0
}

// TestSync_WatchLeavesTheStoreToOtherCommands: while a watch applies a
// stream of changes from slapd (a persistent sync search), other usersync
// commands — readers and a writer — keep working on the same store: none
// is told the store is in use, and every change still arrives, each run
// incremental. The directory answers slowly (every message 200ms late), so
// that a read of its changes takes seconds: longer than a command waits
// for the store (1s), had the watch held it while reading.
func TestSync_WatchLeavesTheStoreToOtherCommands(t *testing.T) {
	srv, dns := feedDirectory(t)
	e := newEnv(t)
	configureFeed(e, srv)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Sales", "--enable", "--yes")
	e.ok("import", "ldap", "--server", "dc01", "--query", "Support", "--enable", "--yes")
	e.ok("sync", "--all", "--yes") // the cookies
	slow := slapdtest.NewProxy(t, srv.Addr, slapdtest.ProxyOptions{Delay: 200 * time.Millisecond})
	e.useLDAP(srv, ldapSection("dc01", slow.URL, srv, `timeout = "10s"`, "[ldap.attributes]", `disabled = "employeeType"`))

	stdout, stderr, stop := startWatch(t, e, "--interval", "300ms")
	done := make(chan struct{})
	var changes sync.WaitGroup
	changes.Add(1)
	go func() { // a change every 400ms while the commands run
		defer changes.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(400 * time.Millisecond):
			}
			uid := fmt.Sprintf("p%03d", 200+i%100)
			srv.Modify(t, dns[uid], func(m *goldap.ModifyRequest) {
				m.Replace("mail", []string{fmt.Sprintf("%s.%d@busy.example.com", uid, i)})
			})
		}
	}()

	var mu sync.Mutex
	var failures []string
	var commands sync.WaitGroup
	deadline := time.Now().Add(6 * time.Second)
	n := 0
	for _, args := range [][]string{
		{"users", "list", "--json"},
		{"runs", "list"},
		{"roles", "assign", "p201", "Editor"},
	} {
		commands.Add(1)
		go func() {
			defer commands.Done()
			for time.Now().Before(deadline) {
				r := e.run(args...)
				mu.Lock()
				n++
				if r.code != 0 {
					failures = append(failures, fmt.Sprintf("usersync %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr))
				}
				mu.Unlock()
			}
		}()
	}
	commands.Wait()
	close(done)
	changes.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d commands failed while the watch ran:\n%s", len(failures), n, strings.Join(failures, "\n"))
	}
	t.Logf("%d commands ran while the watch applied changes", n)

	// The last change arrives too.
	srv.Modify(t, dns["p299"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"p299@last.example.com"}) })
	waitForMail(t, e, "p299", "p299@last.example.com", 20*time.Second, stderr)
	stop()
	runs := jsonLines(t, stdout.String())
	if len(runs) < 2 {
		t.Fatalf("the watch journaled %d runs for a stream of changes\n%s", len(runs), stderr.String())
	}
	for _, r := range runs {
		if r.Mode != "incremental" || r.Status != "completed" {
			t.Errorf("a watch run: mode %q, status %q, note %q, error %q", r.Mode, r.Status, r.Note, r.Error)
		}
	}
	if strings.Contains(stderr.String(), "in use") {
		t.Logf("the watch waited for the store at times:\n%s", stderr.String())
	}
	configureFeed(e, srv) // the audit reads at full speed
	audit := runOf(t, e.ok("sync", "--all", "--full", "--json"))
	if c := audit.Counts; c.Created+c.Updated+c.Removed+c.Disabled != 0 {
		t.Errorf("after the watch, a full read would still change %+v: %v", c, audit.Entries)
	}
}

// TestSync_WatchWaitsForABusyStore: a store another process holds to
// write (as a TUI does while it is open) does not stop the watch: it
// waits, says so, and applies the change once the store is free.
func TestSync_WatchWaitsForABusyStore(t *testing.T) {
	srv, dns := feedDirectory(t)
	e := newEnv(t)
	configureFeed(e, srv)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Support", "--enable", "--yes")
	e.ok("sync", "--all", "--yes")
	stdout, stderr, stop := startWatch(t, e, "--interval", "30s")
	time.Sleep(500 * time.Millisecond)

	held, err := store.Open(e.store, nil) // another process's hold, to write
	if err != nil {
		t.Fatal(err)
	}
	srv.Modify(t, dns["p250"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"p250@busy.example.com"}) })
	time.Sleep(3 * time.Second)
	if !strings.Contains(stderr.String(), "in use by another usersync process") {
		t.Errorf("the watch did not say it waits for the store:\n%s", stderr.String())
	}
	held.Close()
	waitForMail(t, e, "p250", "p250@busy.example.com", 10*time.Second, stderr)
	stop()
	if runs := jsonLines(t, stdout.String()); len(runs) != 1 || runs[0].Counts.Updated != 1 {
		t.Errorf("the watch journaled %+v, want one run updating p250", runs)
	}
}

// TestSync_WatchSurvivesALostDirectory: the persistent search's connection
// is cut (a directory restart): the watch removes nothing, reconnects,
// and goes on applying changes, the one made while it was cut included.
func TestSync_WatchSurvivesALostDirectory(t *testing.T) {
	srv, dns := feedDirectory(t)
	p := slapdtest.NewProxy(t, srv.Addr, slapdtest.ProxyOptions{})
	e := newEnv(t)
	e.useLDAP(srv, ldapSection("dc01", p.URL, srv, `timeout = "5s"`, "[ldap.attributes]", `disabled = "employeeType"`))
	e.ok("import", "ldap", "--server", "dc01", "--query", "Sales", "--enable", "--yes")
	e.ok("sync", "--all", "--yes")
	stdout, stderr, stop := startWatch(t, e, "--interval", "1s")
	time.Sleep(500 * time.Millisecond)

	p.CutAll()
	srv.Modify(t, dns["p010"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"p010@cut.example.com"}) })
	p.CutAll()
	waitForMail(t, e, "p010", "p010@cut.example.com", 10*time.Second, stderr)
	srv.Modify(t, dns["p011"], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"p011@after.example.com"}) })
	waitForMail(t, e, "p011", "p011@after.example.com", 10*time.Second, stderr)
	stop()

	var sales groupJSON
	e.jsonOf(&sales, "groups", "show", "Sales", "--json")
	if len(sales.Members) != 200 {
		t.Errorf("Sales has %d members after the directory was lost, want 200", len(sales.Members))
	}
	for _, r := range jsonLines(t, stdout.String()) {
		if r.Counts.Removed+r.Counts.Disabled != 0 {
			t.Errorf("a run removed or disabled members: %+v", r)
		}
	}
}

// TestSync_WatchJournalsAnOutageOnce: a watch whose directory is gone
// journals the failed read as a failed run, as any sync does — once for
// the outage, not once per retry — and removes nothing.
func TestSync_WatchJournalsAnOutageOnce(t *testing.T) {
	srv, _ := feedDirectory(t)
	e := newEnv(t)
	configureFeed(e, srv)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Support", "--enable", "--yes")
	var before []runJSON
	e.jsonOf(&before, "runs", "list", "--json")
	srv.Kill()
	_, stderr, stop := startWatch(t, e, "--interval", "1s")
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(stderr.String(), "trying again") < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if n := strings.Count(stderr.String(), "trying again"); n < 3 {
		t.Fatalf("the watch retried %d times in 15s:\n%s", n, stderr.String())
	}
	var after []runJSON
	e.jsonOf(&after, "runs", "list", "--json")
	var failed []runJSON
	for _, r := range after {
		if r.ID > before[len(before)-1].ID && r.Status == "failed" {
			failed = append(failed, r)
		}
	}
	if len(failed) != 1 || len(after) != len(before)+1 || failed[0].Source != "dc01" || !strings.Contains(failed[0].Error, "synchronize from dc01") {
		t.Fatalf("runs journaled by the watch: %+v, want one failed run for dc01 saying why\nstderr:\n%s", after[len(before):], stderr.String())
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("journaled the failed read as run %d", failed[0].ID)) {
		t.Errorf("the watch did not say which run it journaled:\n%s", stderr.String())
	}
	var users []struct {
		Username string `json:"username"`
		Enabled  bool   `json:"enabled"`
	}
	e.jsonOf(&users, "users", "list", "--json")
	if len(users) != 100 {
		t.Errorf("%d users after the outage, want the 100 of Support", len(users))
	}
	for _, u := range users {
		if !u.Enabled {
			t.Errorf("%s was disabled during the outage", u.Username)
		}
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// twoSources is a slapd with two groups of many members, configured twice
// (dc01 directly, dc02 through a proxy that can drop the connection half-way).
type twoSources struct {
	srv   *slapdtest.Server
	proxy *slapdtest.Proxy
}

func startTwoSources(t *testing.T, members int) *twoSources {
	t.Helper()
	slapdtest.Require(t)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	var big, small []string
	for i := 0; i < members; i++ {
		big = append(big, data.AddUser(slapdtest.User{UID: fmt.Sprintf("big%04d", i), CN: fmt.Sprintf("Big %d", i), Mail: fmt.Sprintf("big%d@example.com", i)}))
	}
	for i := 0; i < 3; i++ {
		small = append(small, data.AddUser(slapdtest.User{UID: fmt.Sprintf("small%d", i), CN: fmt.Sprintf("Small %d", i), Mail: fmt.Sprintf("small%d@example.com", i)}))
	}
	data.AddGroup(slapdtest.Group{CN: "Big", Members: big})
	data.AddGroup(slapdtest.Group{CN: "Small", Members: small})
	srv := slapdtest.Start(t, slapdtest.Options{Data: data})
	return &twoSources{srv: srv, proxy: slapdtest.NewProxy(t, srv.Addr, slapdtest.ProxyOptions{})}
}

func (s *twoSources) configure(e *env) {
	more := []string{"page_size = 50", `timeout = "5s"`}
	e.useLDAP(s.srv, ldapSection("dc01", s.srv.URL, s.srv, more...), ldapSection("dc02", s.proxy.URL, s.srv, more...))
}

// jsonLines parses stdout line by line, as a script reading a .jsonl file.
func jsonLines(t *testing.T, stdout string) []runJSON {
	t.Helper()
	var runs []runJSON
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var r runJSON
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q is not a run object: %v", sc.Text(), err)
		}
		runs = append(runs, r)
	}
	return runs
}

// TestSync_ConnectionDroppedHalfwayIsIncomplete: a sync whose read broke
// off removes and disables nothing, has status "incomplete" and exits 4;
// with --json every run is one line (JSON Lines), also for --all over two
// directories; a clean sync of the same group afterwards completes.
func TestSync_ConnectionDroppedHalfwayIsIncomplete(t *testing.T) {
	s := startTwoSources(t, 400)
	e := newEnv(t)
	s.configure(e)
	e.ok("import", "ldap", "--server", "dc02", "--query", "Big", "--enable", "--yes")
	e.ok("import", "ldap", "--server", "dc01", "--query", "Small", "--enable", "--yes")
	var before groupJSON
	e.jsonOf(&before, "groups", "show", "Big", "--json")
	if len(before.Members) != 400 {
		t.Fatalf("Big has %d members after the import, want 400", len(before.Members))
	}

	s.proxy.CutAfterEntries(120)
	r := e.run("sync", "Big", "--yes", "--json")
	runs := jsonLines(t, r.stdout)
	if r.code != exitIncomplete || len(runs) != 1 {
		t.Fatalf("sync over a dropped connection: exit %d, %d runs\nstdout %s\nstderr %s", r.code, len(runs), r.stdout, r.stderr)
	}
	if run := runs[0]; run.Status != "incomplete" || run.Mode != "full" || run.Counts.Removed != 0 || run.Counts.Disabled != 0 || !strings.Contains(run.Error, "nothing was removed or disabled") {
		t.Errorf("incomplete run: %+v", run)
	}
	if !strings.Contains(r.stderr, "incomplete") {
		t.Errorf("stderr does not say the read was incomplete: %q", r.stderr)
	}
	var after groupJSON
	e.jsonOf(&after, "groups", "show", "Big", "--json")
	if len(after.Members) != 400 {
		t.Errorf("Big has %d members after an incomplete sync, want 400", len(after.Members))
	}
	var shown runJSON
	e.jsonOf(&shown, "runs", "show", fmt.Sprint(runs[0].ID), "--json")
	if shown.Status != "incomplete" {
		t.Errorf("runs show: status %q", shown.Status)
	}

	// --all: two directories, two runs, two lines; the incomplete one
	// decides the exit code.
	s.proxy.CutAfterEntries(120)
	r = e.run("sync", "--all", "--yes", "--json")
	runs = jsonLines(t, r.stdout)
	if r.code != exitIncomplete || len(runs) != 2 || strings.Count(strings.TrimSpace(r.stdout), "\n") != 1 {
		t.Fatalf("sync --all: exit %d, %d runs\n%s", r.code, len(runs), r.stdout)
	}
	statuses := map[string]string{runs[0].Source: runs[0].Status, runs[1].Source: runs[1].Status}
	if statuses["dc01"] != "completed" || statuses["dc02"] != "incomplete" {
		t.Errorf("statuses %v", statuses)
	}

	s.proxy.CutAfterEntries(0)
	r = e.run("sync", "Big", "--yes", "--json")
	if runs := jsonLines(t, r.stdout); r.code != exitOK || len(runs) != 1 || runs[0].Status != "completed" {
		t.Errorf("clean sync: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestSync_FailedPlanStillPrintsItsRun: a plan whose directory cannot be
// read prints its run object with --json (status failed), and exits 1.
func TestSync_FailedPlanStillPrintsItsRun(t *testing.T) {
	s := startTwoSources(t, 3)
	e := newEnv(t)
	s.configure(e)
	e.ok("import", "ldap", "--server", "dc01", "--query", "Small", "--enable", "--yes")
	s.srv.Stop()
	r := e.run("sync", "Small", "--json")
	runs := jsonLines(t, r.stdout)
	if r.code != exitFailure || len(runs) != 1 || runs[0].Status != "failed" || runs[0].Error == "" {
		t.Fatalf("failed plan: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

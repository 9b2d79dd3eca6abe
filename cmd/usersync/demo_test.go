package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoEnv is a scratch environment whose TMPDIR is its own, so that a test
// can see what the demo leaves behind.
func demoEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	tmp := filepath.Join(e.dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	e.extra = append(e.extra, "TMPDIR="+tmp)
	return e, tmp
}

// scratchDirs lists the demo's scratch directories under tmp.
func scratchDirs(t *testing.T, tmp string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(tmp, "usersync-demo-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDemo_AnStarShowsTheMixThenQuitRemovesTheScratchDir(t *testing.T) {
	e, tmp := demoEnv(t)
	m := startTerminal(t, e, 80, 24, "demo")
	m.waitFor("aandrei", "Andrei Aandrei", "andarm")

	m.keys("i")
	m.waitFor("dc01", "contoso")
	m.keys("Enter") // dc01 is first
	m.waitFor("Search")
	m.typeText("an*")
	m.keys("Enter")
	s := m.waitFor(`Found 8 search results for "an*"`,
		"Select to synchronize", "Select to import", "Username already exists as an internal user",
		"Analysis", "andbal", "AAndrei", "angnov")
	if lines := strings.Split(strings.TrimRight(s, "\n"), "\n"); len(lines) > 24 {
		t.Fatalf("the results drew %d lines in a 24-line terminal:\n%s", len(lines), s)
	}
	for _, row := range []struct{ name, says string }{
		{"andarm", "Select to synchronize"},
		{"andbal", "Select to import"},
		{"AAndrei", "Username already exists as an internal user"},
		{"Analysis", "Select to synchronize"},
	} {
		if !lineWith(s, row.name, row.says) {
			t.Errorf("no row shows %s with %q:\n%s", row.name, row.says, s)
		}
	}
	if len(scratchDirs(t, tmp)) != 1 {
		t.Fatalf("while the demo runs, %s holds %q: want one scratch directory", tmp, scratchDirs(t, tmp))
	}

	// Esc leaves the results for the search box, then the search for the
	// server picker; q quits from there.
	m.keys("Escape")
	m.waitFor("esc servers")
	m.keys("Escape")
	m.waitFor("Pick a directory")
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("q: exit status %d\n%s", code, m.screen())
	}
	if left := scratchDirs(t, tmp); len(left) != 0 {
		t.Fatalf("the scratch directory is still there after quitting: %q", left)
	}
}

// lineWith reports whether one line of screen holds every one of parts.
func lineWith(screen string, parts ...string) bool {
	for line := range strings.SplitSeq(screen, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p+" ") && !strings.HasSuffix(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestDemo_CtrlCStopsAndCleansUpAndLeavesTheUsersStoreAlone(t *testing.T) {
	e, tmp := demoEnv(t)
	m := startTerminal(t, e, 80, 24, "demo")
	m.waitFor("aandrei")
	m.keys("C-c")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("ctrl+c: exit status %d\n%s", code, m.screen())
	}
	if left := scratchDirs(t, tmp); len(left) != 0 {
		t.Fatalf("the scratch directory is still there after ctrl+c: %q", left)
	}
	// USERSYNC_STORE named the user's own store: the demo left it alone.
	if _, err := os.Stat(e.store); !os.IsNotExist(err) {
		t.Fatalf("the demo touched $USERSYNC_STORE %s: %v", e.store, err)
	}
}

func TestDemo_KeepLeavesTheSeededStore(t *testing.T) {
	e, tmp := demoEnv(t)
	m := startTerminal(t, e, 80, 24, "demo", "--keep")
	m.waitFor("aandrei")
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("q: exit status %d\n%s", code, m.screen())
	}
	kept := scratchDirs(t, tmp)
	if len(kept) != 1 {
		t.Fatalf("--keep left %q, want one scratch directory", kept)
	}
	// The message follows the TUI's last screen; its start may have
	// scrolled into the pane's history.
	if s := m.tmux("capture-pane", "-t", "t", "-p", "-J", "-S", "-100"); !strings.Contains(strings.ReplaceAll(s, "\n", ""), kept[0]) {
		t.Errorf("--keep did not say where the scratch directory is:\n%s", s)
	}
	var runs []struct {
		Source, Status, Actor string
	}
	e.jsonOf(&runs, "--store", filepath.Join(kept[0], "usersync.db"), "runs", "list", "--json")
	if len(runs) != 1 || runs[0].Source != "dc01" || runs[0].Status != "completed" {
		t.Fatalf("the kept store's journal: %+v, want the seeded import from dc01", runs)
	}
}

func TestDemo_ServeRunsTheDirectoriesForOtherCommands(t *testing.T) {
	e, tmp := demoEnv(t)
	cmd := exec.Command(binary, "demo", "--serve")
	cmd.Env = append(os.Environ(), e.extra...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// The exports come once the directories are up and the store seeded.
	vars := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(vars) < 2 && sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			t.Fatalf("demo --serve printed %q, want export lines", sc.Text())
		}
		vars[k] = strings.Trim(v, "'")
	}
	if vars["USERSYNC_CONFIG"] == "" || vars["USERSYNC_STORE"] == "" {
		t.Fatalf("demo --serve printed %v\nstderr: %s", vars, stderr.String())
	}
	t.Logf("ready after %v (race-enabled binary)", time.Since(start))
	e.config, e.store = vars["USERSYNC_CONFIG"], vars["USERSYNC_STORE"]

	var dirs []struct{ Name, Kind, URL string }
	e.jsonOf(&dirs, "directories", "list", "--json")
	if len(dirs) != 2 || dirs[0].Name != "dc01" || dirs[0].Kind != "ldap" || dirs[1].Name != "contoso" || dirs[1].Kind != "entra" {
		t.Fatalf("directories list: %+v", dirs)
	}
	e.ok("directories", "test", "dc01")

	var plan struct {
		Counts  map[string]int `json:"counts"`
		Entries []struct {
			Name, Action, Reason string
		} `json:"entries"`
	}
	e.jsonOf(&plan, "import", "ldap", "--server", "dc01", "--query", "an*", "--json")
	actions := map[string]string{}
	for _, en := range plan.Entries {
		actions[en.Name] = en.Action
	}
	for name, want := range map[string]string{"andbal": "created", "AAndrei": "skipped", "andarm": "updated", "Analysis": "unchanged"} {
		if actions[name] != want {
			t.Errorf("import plan for %s: %q, want %q (plan %+v)", name, actions[name], want, plan.Entries)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo --serve after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo --serve did not stop on SIGINT")
	}
	if left := scratchDirs(t, tmp); len(left) != 0 {
		t.Fatalf("the scratch directory is still there after SIGINT: %q", left)
	}
	if _, err := os.Stat(e.config); !os.IsNotExist(err) {
		t.Fatalf("the demo configuration is still there: %v", err)
	}
}

package tui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
)

// wizardConfig has an LDAP server, one asking for its password, and an
// Entra tenant; Open serves dir and records the password it was given.
func wizardConfig(dir *memDir, gotPassword *string) Config {
	return Config{
		Sources: []Source{
			{Name: "dc01", Kind: directory.KindLDAP, URL: "ldaps://dc01.corp.example:636"},
			{Name: "dc02", Kind: directory.KindLDAP, URL: "ldap://dc02:389", NeedsPassword: true},
			{Name: "contoso", Kind: directory.KindEntra, URL: "https://graph.microsoft.com"},
		},
		Open: func(ctx context.Context, name, password string) (directory.Directory, error) {
			if gotPassword != nil {
				*gotPassword = password
			}
			if name == "dc02" && password != "s3cret" {
				return nil, errors.New("LDAP Result Code 49 \"Invalid Credentials\"")
			}
			return dir, nil
		},
		Actor: "tester",
	}
}

func TestServers_ListsLDAPAndEntraSourcesEntraNeedsASignIn(t *testing.T) {
	// Without Config.OpenEntra the tenant is listed but cannot be opened.
	d := newDriver(t, wizardConfig(&memDir{name: "dc01"}, nil), StartImport)
	d.mustShow("dc01")
	d.mustShow("ldaps://dc01.corp.example:636")
	d.mustShow("contoso")
	d.keys("end", "enter")
	d.mustShow("This usersync cannot sign in to Entra ID tenants")
	if _, ok := d.active().(*serversScreen); !ok {
		t.Fatalf("an Entra source left the picker: %T", d.active())
	}
}

func TestServers_PasswordIsMaskedAndPassedToOpen(t *testing.T) {
	var got string
	d := newDriver(t, wizardConfig(&memDir{name: "dc02"}, &got), StartImport)
	d.keys("down", "enter")
	d.mustShow("Bind password for dc02")
	d.typeText("wrong")
	d.mustNotShow("wrong")
	d.mustShow("•••••")
	d.keys("enter")
	if got != "wrong" {
		t.Fatalf("Open got password %q", got)
	}
	d.mustShow("Could not connect to dc02")
	d.mustShow("Invalid Credentials")
	// The wizard stays usable: try again.
	d.keys("enter")
	d.typeText("s3cret")
	d.keys("enter")
	if _, ok := d.active().(*searchScreen); !ok {
		t.Fatalf("a good password did not open the search: %T\n%s", d.active(), d.screen())
	}
	d.mustShow("Search by username or group name")
	d.mustNotShow("s3cret")
}

func TestServers_QuitKeyIsTextWhileTypingThePassword(t *testing.T) {
	d := newDriver(t, wizardConfig(&memDir{name: "dc02"}, nil), StartImport)
	d.keys("down", "enter", "q")
	if d.quit {
		t.Fatal("q in the password prompt quit the app")
	}
	d.keys("esc", "q")
	if !d.quit {
		t.Fatal("q on the picker did not quit")
	}
}

func TestServers_LateConnectionIsClosed(t *testing.T) {
	dir := &memDir{name: "dc01"}
	d := newDriver(t, wizardConfig(dir, nil), StartImport)
	s := d.active().(*serversScreen)
	cmd := s.choose()         // connecting…
	s.Update(keyPress("esc")) // abandoned
	msg := runCmd(t, cmd)
	d.send(msg)
	if !dir.isClosed() {
		t.Fatal("a connection that arrived after Esc was not closed")
	}
	if _, ok := d.active().(*serversScreen); !ok {
		t.Fatalf("a late connection opened %T", d.active())
	}
}

func TestRoot_QuitAndHelp(t *testing.T) {
	d := newDriver(t, wizardConfig(&memDir{}, nil), StartImport)
	d.mustShow("↑↓ move")
	d.mustShow("? help")
	d.keys("?")
	d.mustShow("quit (q, ctrl+c)")
	d.mustShow("pgdn")
	d.keys("?")
	d.mustNotShow("quit (q, ctrl+c)")
	d.keys("ctrl+c")
	if !d.quit {
		t.Fatal("ctrl+c did not quit")
	}
}

func TestRoot_ViewFitsEverySize(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {40, 12}, {120, 40}, {20, 5}} {
		d := newDriver(t, wizardConfig(&memDir{}, nil), StartImport)
		d.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, keys := range [][]string{nil, {"?"}} {
			d.keys(keys...)
			v := d.m.View()
			if !v.AltScreen || v.MouseMode != tea.MouseModeCellMotion {
				t.Fatalf("view: alt screen %v, mouse %v", v.AltScreen, v.MouseMode)
			}
			lines := strings.Split(v.Content, "\n")
			if len(lines) != size[1] {
				t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > size[0] {
					t.Errorf("%dx%d: line %d is %d wide: %q", size[0], size[1], i, w, ansi.Strip(l))
				}
			}
		}
	}
}

func TestRoot_BackgroundAndNoColor(t *testing.T) {
	d := newDriver(t, wizardConfig(&memDir{}, nil), StartImport)
	d.send(tea.BackgroundColorMsg{Color: lipglossWhite})
	if d.m.sh.st.dark {
		t.Fatal("a white background did not select light styles")
	}
	if codes := colourCodes(d.m.View().Content); len(codes) == 0 {
		t.Fatal("no colours at all with a colour profile")
	}
	d.send(tea.EnvMsg{"NO_COLOR=1"})
	if codes := colourCodes(d.m.View().Content); len(codes) > 0 {
		t.Fatalf("NO_COLOR: colour codes %q", codes)
	}
}

func TestRoot_QuitWhileRunningAsksThenWaits(t *testing.T) {
	d := newDriver(t, wizardConfig(&memDir{}, nil), StartImport)
	p := newProgressScreen(d.m.sh, job{title: "Importing from dc01", verb: "import", returnTo: d.active().ID()})
	p.running = true // as if Apply were writing
	d.m.stack = append(d.m.stack, p)
	d.keys("q")
	if d.quit {
		t.Fatal("q quit while a run was writing")
	}
	d.mustShow("Quit? It stops after the current batch")
	d.keys("n")
	if d.quit || p.cancelling {
		t.Fatal("n did not keep the run going")
	}
	d.keys("q", "y")
	if !p.cancelling {
		t.Fatal("y did not cancel the run")
	}
	if d.quit {
		t.Fatal("quit before the run stopped")
	}
	// The apply returns: the run is interrupted, then the app quits.
	d.send(appliedMsg{tag: p.tag(), run: &store.Run{ID: 1, Status: store.RunInterrupted}})
	if !d.quit {
		t.Fatal("the app did not quit once the run stopped")
	}
}

func TestProgress_EscAsksThenCancels(t *testing.T) {
	sh := testShared(Config{})
	p := newProgressScreen(sh, job{title: "Importing from dc01", verb: "import", total: 1000})
	p.SetSize(80, 22)
	p.running = true
	p.started = time.Now().Add(-10 * time.Second)
	p.Update(progressMsg{tag: p.tag(), p: store.Progress{Done: 500, Total: 1000, Counts: store.Counts{Created: 400, Updated: 90, Skipped: 10}, Current: "andbal"}})
	view := ansi.Strip(p.View())
	for _, want := range []string{"500 of 1000 entries", "400 created", "90 updated", "10 skipped", "Current: andbal", "entries/s", "ETA: ", "50%"} {
		if !strings.Contains(view, want) {
			t.Errorf("progress does not show %q:\n%s", want, view)
		}
	}
	p.Update(keyPress("esc"))
	if !strings.Contains(ansi.Strip(p.View()), "Cancel the import? Finished batches stay. (y/N)") {
		t.Fatalf("Esc did not ask:\n%s", ansi.Strip(p.View()))
	}
	p.Update(keyPress("y"))
	if !p.cancelling || p.ctx.Err() == nil {
		t.Fatal("y did not cancel the apply's context")
	}
}

func TestProgress_ThresholdAsksThenForces(t *testing.T) {
	sh := testShared(Config{})
	p := newProgressScreen(sh, job{title: "Synchronizing group Sales", verb: "synchronization", in: store.Input{Command: "usersync sync Sales --yes"}})
	p.SetSize(80, 22)
	p.running = true
	stopped := &store.Run{ID: 7, Status: store.RunCompleted, Error: `sync of group "Sales" would remove or disable 5 of 6 members (threshold 0)`,
		Entries: []store.RunEntry{{Name: "Sales", Type: "group", Action: store.ActionFailed, Block: store.BlockedThreshold}}}
	cmd := p.Update(appliedMsg{tag: p.tag(), run: stopped})
	if cmd != nil || !p.askForce {
		t.Fatal("a group over the threshold did not ask for confirmation")
	}
	if !strings.Contains(ansi.Strip(p.View()), "Apply it anyway? (y/N)") {
		t.Fatalf("no question:\n%s", ansi.Strip(p.View()))
	}
	// n shows the report of the run as it was, without forcing.
	msgs := update(t, p, keyPress("n"))
	if len(msgs) != 1 || p.j.in.Options.Force {
		t.Fatalf("n: %v, force %v", msgs, p.j.in.Options.Force)
	}
	if r, ok := msgs[0].(replaceMsg); !ok || r.s.(*reportScreen).run.ID != 7 {
		t.Fatalf("n did not show the run's report: %#v", msgs[0])
	}
}

func TestReport_ListsOutcomesAndSavesJSONAndCSV(t *testing.T) {
	sh := testShared(Config{})
	run := &store.Run{
		ID: 7, Actor: "tester", Source: "dc01", Status: store.RunCompleted,
		Command: "usersync import ldap --server dc01 --query 'an*' --select andbal,aandrei --yes",
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Finished: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Counts: store.Counts{Created: 1, Skipped: 1, Failed: 1},
		Entries: []store.RunEntry{
			{Name: "andbal", Type: directory.TypeUser, Action: store.ActionCreated},
			{Name: "aandrei", Type: directory.TypeUser, Action: store.ActionSkipped, Reason: store.ReasonInternal, Block: store.BlockedInternal},
			{Name: "anon", Type: directory.TypeUser, Action: store.ActionFailed, Reason: "no email address"},
		},
	}
	r := newReportScreen(sh, job{verb: "import"}, run, nil)
	r.SetSize(80, 22)
	view := ansi.Strip(r.View())
	for _, want := range []string{"Run 7: completed", "Created (1)", "andbal", "Skipped (1)", "aandrei — " + store.ReasonInternal, "Failed (1)", "anon — no email address"} {
		if !strings.Contains(view, want) {
			t.Errorf("report does not show %q:\n%s", want, view)
		}
	}

	dir := t.TempDir()
	r.Update(keyPress("s"))
	if r.path.Value() != "usersync-run-7.json" {
		t.Fatalf("default path %q", r.path.Value())
	}
	r.path.SetValue(dir + "/run.json")
	for _, msg := range update(t, r, keyPress("enter")) {
		r.Update(msg)
	}
	if !strings.Contains(ansi.Strip(r.View()), "Saved the report to "+dir+"/run.json") {
		t.Fatalf("no saved note:\n%s", ansi.Strip(r.View()))
	}
	var back store.Run
	data := mustRead(t, dir+"/run.json")
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != 7 || len(back.Entries) != 3 || back.Entries[1].Reason != store.ReasonInternal || back.Counts.Created != 1 {
		t.Fatalf("JSON report: %+v", back)
	}
	if want, _ := run.JSONLine(); string(data) != string(want) {
		t.Errorf("the saved report is not the run's JSON line:\n%s\nwant\n%s", data, want)
	}
	for _, key := range []string{`"id"`, `"started"`, `"finished"`, `"actor"`, `"status"`, `"mode"`, `"counts"`, `"entries"`, `"action"`, `"reason"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}

	r.Update(keyPress("s"))
	r.path.SetValue(dir + "/run.csv")
	for _, msg := range update(t, r, keyPress("enter")) {
		r.Update(msg)
	}
	recs, err := csv.NewReader(strings.NewReader(string(mustRead(t, dir+"/run.csv")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[2][1] != "aandrei" || recs[2][3] != "skipped" || recs[2][4] != store.ReasonInternal {
		t.Fatalf("CSV report: %q", recs)
	}
}

func TestReport_InterruptedSaysFinishedBatchesStay(t *testing.T) {
	sh := testShared(Config{})
	r := newReportScreen(sh, job{verb: "import"}, &store.Run{ID: 3, Status: store.RunInterrupted}, nil)
	r.SetSize(80, 22)
	if !strings.Contains(ansi.Strip(r.View()), "Interrupted: the batches already written stay") {
		t.Fatalf("interrupted run:\n%s", ansi.Strip(r.View()))
	}
}

func TestOptions_ToggleAndPickersAnswers(t *testing.T) {
	sh := testShared(Config{})
	search, _ := newTestSearch(t)
	sess := search.sess
	o := newOptionsScreen(sh, sess)
	o.SetSize(80, 22)
	o.Update(keyPress("space"))
	if !sess.req.Enable {
		t.Fatal("Space did not enable users after import")
	}
	o.Update(keyPress("down"))
	if !pushes[*rolePicker](update(t, o, keyPress("enter"))) {
		t.Fatal("Enter on Set roles did not open the role picker")
	}
	o.Update(rolesChosenMsg{tag: o.tag(), roles: []store.Assignment{{Role: "Viewer", Scope: "global"}, {Role: "Editor", Scope: "project-x"}}})
	o.Update(keyPress("down"))
	if !pushes[*userPicker](update(t, o, keyPress("enter"))) {
		t.Fatal("Enter on Copy roles did not open the user picker")
	}
	o.Update(userPickedMsg{tag: o.tag(), name: "mentor"})
	view := ansi.Strip(o.View())
	for _, want := range []string{"[x] Enable users after import", "Viewer,Editor@project-x", "get the roles of: mentor"} {
		if !strings.Contains(view, want) {
			t.Errorf("options do not show %q:\n%s", want, view)
		}
	}
	o.Update(keyPress("x"))
	if sess.req.CopyRolesFrom != "" {
		t.Fatal("x did not clear copy roles from")
	}
	o.Update(keyPress("up"))
	o.Update(keyPress("up"))
	if !pushes[*summaryScreen](update(t, o, keyPress("enter"))) {
		t.Fatal("Enter on the checkbox did not move on to the summary")
	}
}

// TestRolePicker_ScopeIsExactlyWhatWasTyped: global is the scope's
// placeholder, not its text, so typing project-x gives project-x (it gave
// globalproject-x), and an empty scope is global.
func TestRolePicker_ScopeIsExactlyWhatWasTyped(t *testing.T) {
	sh := testShared(Config{})
	p := newRolePicker(sh, nil, tag{})
	p.SetSize(80, 22)
	p.Update(rolesLoadedMsg{tag: p.tag(), roles: []store.Role{{Name: "Admin"}, {Name: "Editor"}, {Name: "Viewer"}}})
	p.Update(keyPress("end"))
	p.Update(keyPress("space")) // Viewer @ global
	p.Update(keyPress("tab"))
	for _, m := range typeText("project-x") {
		p.Update(m)
	}
	if !p.Typing() {
		t.Fatal("Tab did not focus the scope")
	}
	if v := p.scope.Value(); v != "project-x" {
		t.Fatalf("the scope holds %q after typing project-x", v)
	}
	p.Update(keyPress("enter"))
	p.Update(keyPress("up"))
	p.Update(keyPress("space")) // Editor @ project-x
	msgs := update(t, p, keyPress("enter"))
	if len(msgs) != 1 {
		t.Fatalf("Enter: %v", msgs)
	}
	got := msgs[0].(popMsg).result.(rolesChosenMsg).roles
	want := []store.Assignment{{Role: "Editor", Scope: "project-x"}, {Role: "Viewer", Scope: "global"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("roles %v, want %v", got, want)
	}
}

// A long reason in the report wraps at 80 columns: it is read to its end,
// never cut.
func TestReport_LongReasonsWrapAt80Columns(t *testing.T) {
	sh := testShared(Config{})
	reason := `username "mei.chen\u200b" is not allowed: U+200B ZERO WIDTH SPACE at position 9 (PRECIS UsernameCaseMapped)`
	run := &store.Run{ID: 5, Status: store.RunInterrupted, Source: "dc01", Command: "usersync import ldap --server dc01",
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Counts:  store.Counts{Failed: 1},
		Entries: []store.RunEntry{{Name: "mei.chen\u200b", Type: directory.TypeUser, Action: store.ActionFailed, Reason: reason, Group: "Retail"}},
	}
	r := newReportScreen(sh, job{verb: "import"}, run, nil)
	r.SetSize(80, 22)
	lines := strings.Split(ansi.Strip(r.View()), "\n")
	joined := ""
	for _, l := range lines {
		if w := ansi.StringWidth(l); w > 80 {
			t.Errorf("a line is %d cells wide: %q", w, l)
		}
		if strings.Contains(l, "…") {
			t.Errorf("a line is cut: %q", l)
		}
		joined += strings.TrimSpace(l) + " "
	}
	for _, want := range []string{"Run the same import again to finish.", "(PRECIS UsernameCaseMapped)", `mei.chen\u200b (from Retail)`} {
		if !strings.Contains(joined, want) {
			t.Errorf("the report does not show %q whole:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

package tui

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// valued are the options that take a value: a line never ends with one.
var valued = []string{"--server", "--query", "--select", "--roles", "--copy-roles-from", "--tenant", "--group"}

// commandBlock returns the lines under "The same import from a script".
func commandBlock(t *testing.T, screen string) []string {
	t.Helper()
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.Contains(l, "The same import from a script") {
			var out []string
			for _, c := range lines[i+1:] {
				if strings.TrimSpace(c) == "" {
					break
				}
				out = append(out, c)
			}
			return out
		}
	}
	t.Fatalf("no command on the screen:\n%s", screen)
	return nil
}

func checkCommandLayout(t *testing.T, block []string, command string) {
	t.Helper()
	if got := strings.Join(strings.Fields(strings.Join(block, " ")), " "); got != command {
		t.Errorf("the lines read %q, want the command %q", got, command)
	}
	for i, l := range block {
		l = strings.TrimRight(l, " ")
		for _, opt := range valued {
			if strings.HasSuffix(l, " "+opt) {
				t.Errorf("line %d ends with %s, its value on the next line: %q", i, opt, l)
			}
		}
		if strings.Count(l, "'")%2 != 0 {
			t.Errorf("line %d breaks inside a quoted argument: %q", i, l)
		}
	}
	if last := block[len(block)-1]; !strings.HasSuffix(strings.TrimSpace(last), "--yes") {
		t.Errorf("--yes is not last: %q", last)
	}
}

// clipboard runs cmd and returns what it puts on the clipboard (OSC 52).
func clipboard(t *testing.T, cmd tea.Cmd) (string, bool) {
	t.Helper()
	if cmd == nil {
		return "", false
	}
	msg := runCmd(t, cmd)
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			if s, ok := clipboard(t, c); ok {
				return s, true
			}
		}
		return "", false
	}
	if msg != nil && reflect.TypeOf(msg).String() == "tea.setClipboardMsg" {
		return fmt.Sprint(msg), true
	}
	return "", false
}

func TestSummary_CommandLineBreaksBetweenArgumentsAndYCopiesIt(t *testing.T) {
	l := newDemoLab(t)
	d, s := l.results(t)
	moveTo(t, s.list.results, "andbal")
	d.keys("space", "enter")
	o := d.active().(*optionsScreen)
	d.send(rolesChosenMsg{tag: o.tag(), roles: []store.Assignment{{Role: "Viewer", Scope: store.GlobalScope}, {Role: "Editor", Scope: "project x"}}})
	d.send(userPickedMsg{tag: o.tag(), name: "mlopez"})
	d.keys("space", "end", "enter")
	sum, ok := d.active().(*summaryScreen)
	if !ok {
		t.Fatalf("not on the summary: %T", d.active())
	}
	checkCommandLayout(t, commandBlock(t, d.screen()), sum.command)
	if !strings.Contains(sum.command, "--roles 'Viewer,Editor@project x'") {
		t.Fatalf("command %q", sum.command)
	}
	_, cmd := d.m.Update(keyPress("y"))
	got, ok := clipboard(t, cmd)
	if !ok || got != sum.command {
		t.Fatalf("y put %q on the clipboard (%v), want %q", got, ok, sum.command)
	}
	if strings.Contains(got, "\n") {
		t.Fatal("the copied command is not one line")
	}
	d.run(cmd)
	d.mustShow("Copied the command, as one line.")
	if !strings.Contains(d.helpLine(), "y copy command") {
		t.Errorf("the help does not offer y: %q", d.helpLine())
	}
}

func TestEntraSummary_CommandLineBreaksBetweenArgumentsAndYCopiesIt(t *testing.T) {
	st := entraStore(t)
	d, g := chooser(t, st, newTenant())
	tickGroup(t, d, g, "Marketing")
	sum := toSummary(t, d, g, true, "Viewer", "Editor")
	checkCommandLayout(t, commandBlock(t, d.screen()), sum.command)
	got, ok := clipboard(t, sum.Update(keyPress("y")))
	if !ok || got != sum.command {
		t.Fatalf("y put %q on the clipboard (%v), want %q", got, ok, sum.command)
	}
}

func TestCommandLines_NeverSplitsAnOptionFromItsValue(t *testing.T) {
	req := importer.LDAP{Server: "dc01", Query: "(&(objectClass=person)(uid=an*))", Select: importer.Names{"andbal", "anisha"},
		Roles: importer.Assignments{{Role: "Administrator", Scope: "global"}, {Role: "Editor", Scope: "project-x"}}, Enable: true, CopyRolesFrom: "mlopez"}
	for _, w := range []int{40, 50, 60, 78, 120} {
		lines := commandLines(req.Args(), w)
		if w >= 60 {
			checkCommandLayout(t, lines, req.CommandLine())
		} else if got := strings.Join(strings.Fields(strings.Join(lines, " ")), " "); got != req.CommandLine() {
			t.Errorf("width %d: the lines read %q", w, got) // an option and its value may part, an argument never
		}
		for _, l := range lines {
			if len([]rune(l)) > w {
				t.Errorf("width %d: line %q is wider", w, l)
			}
		}
	}
}

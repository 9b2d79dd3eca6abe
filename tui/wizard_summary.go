package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// importKind is a source kind's side of the wizard, as the one summary
// sees it: the session of an LDAP import (importSession) or an Entra one
// (entraSession) owns what was picked and the choices (its importer
// request), and says how they read.
type importKind interface {
	// sourceName is the configured directory's name.
	sourceName() string
	// heading is the summary's first line.
	heading() string
	// complete fills in the request from the picks and returns its
	// command line (as text and as arguments), the store input it runs
	// with, and the entries to read.
	complete(actor string) (command string, args []string, in store.Input, picked []directory.Entry)
	// fields are the choices, label and value, as the summary lists them.
	fields() [][2]string
	// home is the screen a finished import returns to.
	home() screenID
	// events are an Entra tenant's events (throttling), nil for LDAP.
	events() *entraEvents
	// directory is the open directory the picks are read from.
	directory() directory.Directory
}

// plannedMsg is the summary's plan: the request read from the directory
// (the selected users, and the selected groups read whole, with the
// warnings) and the would-be run.
type plannedMsg struct {
	tag      tag
	prepared *importer.Prepared
	run      *store.Run
	err      error
}

func (m plannedMsg) target() tag { return m.tag }

// summaryScreen is the wizard's one summary, whatever the source kind:
// what was picked and the choices, what the import will do (counts per
// action for users and groups, from store.Plan, and the entries updated,
// skipped or failed, and why), the warnings, and the equivalent command
// line. It reads the picked groups whole (an Entra tenant's throttling
// shows meanwhile) and plans; Enter imports exactly what was read, or
// reads again when reading failed.
type summaryScreen struct {
	base
	kind    importKind
	command string
	args    []string // the command's arguments, for its layout
	in      store.Input
	picked  []directory.Entry
	spin    spinner.Model
	watch   throttleWatch

	planning bool
	planned  *plannedMsg
	err      string
	p        pager
	// started is set by the Enter that starts the import: a second Enter
	// starts nothing.
	started bool
}

func newSummaryScreen(sh *shared, kind importKind) *summaryScreen {
	s := &summaryScreen{base: newBase(sh), kind: kind}
	s.spin = spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(sh.st.accent))
	return s
}

// Title implements screen.
func (s *summaryScreen) Title() string { return "Summary" }

// Init implements screen: read the picked groups and plan the import.
func (s *summaryScreen) Init() tea.Cmd {
	s.command, s.args, s.in, s.picked = s.kind.complete(s.sh.cfg.Actor)
	return s.plan()
}

// plan reads the picked entries and plans, in a command.
func (s *summaryScreen) plan() tea.Cmd {
	s.planning, s.planned, s.err, s.started = true, nil, "", false
	s.render()
	tg, ctx := s.renew()
	st, dir, in, picked := s.sh.cfg.Store, s.kind.directory(), s.in, s.picked
	// Graph's throttling is shown while the groups are read.
	reading, read := context.WithCancel(ctx)
	planCmd := func() tea.Msg {
		defer read()
		return plan(ctx, tg, st, dir, in, picked)
	}
	return tea.Batch(planCmd, s.watch.start(s.kind.events(), s.id, reading), s.spin.Tick)
}

// onlyGroups reports whether only groups were picked.
func (s *summaryScreen) onlyGroups() bool {
	for _, e := range s.picked {
		if e.Type != directory.TypeGroup {
			return false
		}
	}
	return true
}

// plan reads the selected groups whole and asks the store for the plan
// (importer.Prepare, then Plan: what the CLI twin does).
func plan(ctx context.Context, tg tag, st *store.Store, dir directory.Directory, in store.Input, selected []directory.Entry) plannedMsg {
	p, err := importer.Prepare(ctx, st, dir, in, selected)
	if err != nil {
		return plannedMsg{tag: tg, err: err}
	}
	run, err := p.Plan(ctx, st)
	return plannedMsg{tag: tg, prepared: p, run: run, err: err}
}

func (s *summaryScreen) restyle() {
	s.spin.Style = s.sh.st.accent
	s.render()
}

// SetSize implements screen.
func (s *summaryScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.p.SetHeight(h - 1)
	s.render()
}

// Help implements screen.
func (s *summaryScreen) Help() helpMap {
	k := s.sh.keys
	enter := with(k.Enter, "import")
	if s.err != "" {
		enter = with(k.Enter, "read again")
	}
	return helpMap{
		short: []key.Binding{enter, k.Yank, k.Up, k.Down, with(k.Back, "back")},
		full: [][]key.Binding{k.navKeys(), {with(k.Enter, "start the import"),
			with(k.Yank, "copy the command line (OSC 52)"), with(k.Back, "back to the choices")}},
	}
}

// Update implements screen.
func (s *summaryScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	if cmd, ok := s.watch.update(msg); ok {
		s.render()
		return cmd
	}
	switch msg := msg.(type) {
	case plannedMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.planning = false
		if msg.err != nil {
			s.err = msg.err.Error()
		}
		s.planned = &msg
		s.render()
	case spinner.TickMsg:
		if !s.planning {
			return nil
		}
		var cmd tea.Cmd
		s.spin, cmd = s.spin.Update(msg)
		s.render()
		return cmd
	case mouseMsg:
		s.p.Wheel(msg)
	case tea.KeyPressMsg:
		switch {
		case s.p.Navigate(msg, k.Keys):
		case key.Matches(msg, k.Enter):
			return s.start()
		case key.Matches(msg, k.Yank):
			return copyCommand(s.command)
		case key.Matches(msg, k.Back):
			return s.back()
		}
	}
	return nil
}

func (s *summaryScreen) start() tea.Cmd {
	switch {
	case s.sh.cfg.ReadOnly:
		return statusErr("Read-only session: importing is not allowed.")
	case s.planning:
		return status("Still reading and planning…")
	case s.planned == nil || s.err != "":
		return s.plan() // read again
	case s.started:
		return nil
	}
	s.started = true
	j := job{
		title:    "Importing from " + s.kind.sourceName(),
		verb:     "import",
		in:       s.planned.prepared.Input,
		total:    planTotal(s.planned.run),
		returnTo: s.kind.home(),
		events:   s.kind.events(),
	}
	return s.push(newProgressScreen(s.sh, j))
}

// planTotal is the number of entries a run will handle, for the bar.
func planTotal(r *store.Run) int {
	if r == nil {
		return 0
	}
	return len(r.Entries)
}

// tally counts a run's entries of one type by action.
func tally(r *store.Run, t directory.EntryType) (c store.Counts, n int) {
	for _, e := range r.Entries {
		if e.Type != t {
			continue
		}
		n++
		switch e.Action {
		case store.ActionCreated:
			c.Created++
		case store.ActionUpdated:
			c.Updated++
		case store.ActionUnchanged:
			c.Unchanged++
		case store.ActionSkipped:
			c.Skipped++
		case store.ActionFailed:
			c.Failed++
		case store.ActionRemoved:
			c.Removed++
		case store.ActionDisabled:
			c.Disabled++
		}
	}
	return c, n
}

// summaryListMax is how many updated, skipped or failed entries the
// summary names (the completion report names them all).
const summaryListMax = 40

// summaryLabel is the width of the choices' labels.
const summaryLabel = 19

func (s *summaryScreen) render() {
	st := s.sh.st
	w := s.width
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	addField := func(label, value string) {
		for i, l := range wrapHard(visible.String(value), max(10, w-summaryLabel-4)) {
			if i > 0 {
				label = ""
			}
			add(field(s.sh, label, l, summaryLabel))
		}
	}
	add(st.heading.Render(cut(visible.String(s.kind.heading()), w)), "")
	for _, f := range s.kind.fields() {
		addField(f[0], f[1])
	}
	add("")
	var listed []string
	switch {
	case s.planning:
		add("  " + s.spin.View() + "Reading " + visible.String(s.kind.sourceName()) + " and planning…")
	case s.err != "":
		add(st.err.Render(glyphWarning + " Nothing can be imported yet:"))
		for _, l := range wrapHard(visible.String(s.err), max(10, w-4)) {
			add("  " + l)
		}
		add(st.accent.Render("  Enter reads again."))
	case s.planned != nil && s.planned.run != nil:
		run := s.planned.run
		add(st.heading.Render("What will happen"))
		uc, un := tally(run, directory.TypeUser)
		gc, gn := tally(run, directory.TypeGroup)
		// Users picked with groups are read as the groups' members.
		noun, nouns := "user", "users"
		if s.onlyGroups() {
			noun, nouns = "member", "members"
		}
		add(fmt.Sprintf("  %-7s %s", "Users", plural(un, noun, nouns)+": "+countsLine(uc, true)))
		if gn > 0 {
			add(fmt.Sprintf("  %-7s %s", "Groups", countsLine(gc, true)))
		}
		if run.Error != "" {
			for _, l := range wrapHard(glyphWarning+" "+visible.String(run.Error), max(10, w-4)) {
				add(st.warn.Render("  " + l))
			}
		}
		for _, e := range run.Entries {
			var what string
			switch e.Action {
			case store.ActionUpdated:
				what = "update"
			case store.ActionSkipped:
				what = "skip"
			case store.ActionFailed:
				what = "fail"
			case store.ActionRemoved:
				what = "remove"
			case store.ActionDisabled:
				what = "disable"
			default:
				continue
			}
			line := fmt.Sprintf("  %s %s", what, e.Name)
			if e.Reason != "" {
				line += " — " + e.Reason
			}
			listed = append(listed, visible.String(line))
		}
	}
	if t := s.watch.line(); t != "" {
		style := st.dim
		if s.watch.waiting() {
			style = st.warn
		}
		add("", style.Render(cut("  "+t, w)))
	}
	add("", st.heading.Render("The same import from a script")+st.dim.Render("  (y copies it as one line)"))
	for _, l := range commandLines(s.args, max(10, w-2)) {
		add("  " + l)
	}
	// The long parts last: the pager scrolls to them.
	if len(listed) > 0 {
		add("", st.heading.Render("Updated, skipped and failed, and why"))
		for i, l := range listed {
			if i == summaryListMax {
				add(st.dim.Render(fmt.Sprintf("  … and %d more (the completion report lists them all)", len(listed)-i)))
				break
			}
			for j, part := range wrapHard(l, max(10, w-4)) {
				if j > 0 {
					part = "    " + part
				}
				add(part)
			}
		}
	}
	if s.planned != nil && s.planned.prepared != nil && len(s.planned.prepared.Warnings) > 0 {
		add("", st.heading.Render("Warnings"))
		for _, wn := range s.planned.prepared.Warnings {
			for i, l := range wrapHard(visible.String(wn), max(10, w-4)) {
				prefix := "  "
				if i == 0 {
					prefix = st.warn.Render(glyphWarning) + " "
				}
				add(prefix + l)
			}
		}
	}
	s.p.SetLines(lines)
}

// countsLine renders a run's counts, skipping zeros (plan: future tense).
func countsLine(c store.Counts, plan bool) string {
	type kv struct {
		n          int
		past, will string
	}
	items := []kv{
		{c.Created, "created", "create"}, {c.Updated, "updated", "update"},
		{c.Unchanged, "unchanged", "leave unchanged"}, {c.Skipped, "skipped", "skip"},
		{c.Failed, "failed", "fail"}, {c.Removed, "removed from groups", "remove from groups"},
		{c.Disabled, "disabled", "disable"},
	}
	var parts []string
	for _, it := range items {
		if it.n == 0 && it.past != "created" && it.past != "updated" {
			continue
		}
		if plan {
			parts = append(parts, fmt.Sprintf("%s %d", it.will, it.n))
		} else {
			parts = append(parts, fmt.Sprintf("%d %s", it.n, it.past))
		}
	}
	return strings.Join(parts, " · ")
}

// View implements screen.
func (s *summaryScreen) View() string {
	st := s.sh.st
	footer := st.accent.Render("Press Enter to import, Esc to go back.")
	switch {
	case s.planning:
		footer = st.dim.Render("Reading and planning… Esc goes back.")
	case s.err != "":
		footer = st.accent.Render("Press Enter to read again, Esc to go back.")
	}
	if more := s.p.More(); more != "" {
		footer += "  " + st.dim.Render(more)
	}
	return s.p.View() + "\n" + footer
}

// copyCommand puts command on the clipboard of the person's terminal
// (OSC 52: it works over SSH), as one line, and says so.
func copyCommand(command string) tea.Cmd {
	return tea.Batch(tea.SetClipboard(command),
		status("Copied the command, as one line."))
}

package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

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

// summaryScreen shows what the import will do (counts per action from
// store.Plan), the warnings, and the equivalent command line. Enter starts
// the import.
type summaryScreen struct {
	base
	sess    *importSession
	command string
	args    []string // the command's arguments, for its layout
	nUsers  int
	nGroups int

	planning bool
	planned  *plannedMsg
	err      string
	p        pager
	// started is set by the Enter that starts the import: a second Enter,
	// queued before the progress screen arrives, starts nothing.
	started bool
}

func newSummaryScreen(sh *shared, sess *importSession) *summaryScreen {
	return &summaryScreen{base: newBase(sh), sess: sess}
}

// Title implements screen.
func (s *summaryScreen) Title() string { return "Summary" }

// Init implements screen: read the selected groups and plan the import.
func (s *summaryScreen) Init() tea.Cmd {
	entries := s.sess.picked
	s.nUsers, s.nGroups = 0, 0
	for _, e := range entries {
		if e.Type == directory.TypeGroup {
			s.nGroups++
		} else {
			s.nUsers++
		}
	}
	req := &s.sess.req
	s.command, s.args = req.CommandLine(), req.Args()
	in := store.Input{Source: req.Server, Actor: s.sh.cfg.Actor, Command: s.command, Options: req.Options()}
	s.planning, s.planned, s.err, s.started = true, nil, "", false
	s.render()
	tg, ctx := s.renew()
	st, dir := s.sh.cfg.Store, s.sess.dir
	return func() tea.Msg { return plan(ctx, tg, st, dir, in, entries) }
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

// SetSize implements screen.
func (s *summaryScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.p.SetHeight(h - 1)
	s.render()
}

// Help implements screen.
func (s *summaryScreen) Help() helpMap {
	k := s.sh.keys
	return helpMap{
		short: []key.Binding{with(k.Enter, "import"), k.Yank, k.Up, k.Down, with(k.Back, "options")},
		full: [][]key.Binding{k.navKeys(), {with(k.Enter, "start the import"),
			with(k.Yank, "copy the command line (OSC 52)"), with(k.Back, "back to the options")}},
	}
}

// Update implements screen.
func (s *summaryScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
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
	case mouseMsg:
		s.p.Wheel(msg)
	case tea.KeyPressMsg:
		switch {
		case s.p.Navigate(msg, k):
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
		return status("Still planning…")
	case s.planned == nil || s.err != "":
		return statusErr("Nothing to import: the plan failed.")
	case s.started:
		return nil
	}
	s.started = true
	j := job{
		title:    fmt.Sprintf("Importing from %s", s.sess.source.Name),
		in:       s.planned.prepared.Input,
		total:    planTotal(s.planned.run),
		returnTo: s.sess.home,
		verb:     "import",
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

func (s *summaryScreen) render() {
	st := s.sh.st
	w := s.width
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	add(st.heading.Render("Import from "+visible.String(s.sess.source.Name)), "")
	sel := []string{}
	if s.nUsers > 0 {
		sel = append(sel, plural(s.nUsers, "user", "users"))
	}
	if s.nGroups > 0 {
		sel = append(sel, plural(s.nGroups, "group", "groups")+" (with their members)")
	}
	add("Selected: " + strings.Join(sel, " and "))
	o := &s.sess.req
	enable := "no — new users are created disabled, pending review"
	if o.Enable {
		enable = "yes"
	}
	add(field(s.sh, "Enable after import", enable, 19))
	roles := "none"
	if len(o.Roles) > 0 {
		roles = store.FormatAssignments(o.Roles)
	}
	add(field(s.sh, "Roles for new", roles, 19))
	if o.CopyRolesFrom != "" {
		add(field(s.sh, "Copy roles from", o.CopyRolesFrom, 19))
	}
	add("")
	switch {
	case s.planning:
		add(st.dim.Render("Reading the selected groups and planning…"))
	case s.err != "":
		add(st.err.Render(glyphWarning + " " + visible.String(s.err)))
	case s.planned != nil && s.planned.run != nil:
		add(st.heading.Render("What will happen"))
		add("  " + countsLine(s.planned.run.Counts, true))
		var skipped []string
		for _, e := range s.planned.run.Entries {
			if e.Action == store.ActionSkipped || e.Action == store.ActionFailed {
				skipped = append(skipped, visible.String(fmt.Sprintf("  %s %s: %s", e.Action, e.Name, e.Reason)))
			}
		}
		if len(skipped) > 0 {
			for i, l := range skipped {
				if i == 5 {
					add(st.dim.Render(fmt.Sprintf("  … and %d more", len(skipped)-5)))
					break
				}
				add(st.dim.Render(cut(l, w)))
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
	add("", st.heading.Render("The same import from a script")+st.dim.Render("  (y copies it as one line)"))
	for _, l := range commandLines(s.args, max(10, w-2)) {
		add("  " + l)
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

package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// entraSummaryScreen is the Entra wizard's summary: the groups, how many
// users will be created, updated and skipped (and why), the roles new
// users get, and the equivalent command line. It reads the picked groups
// whole (showing Graph's throttling meanwhile) and asks store.Plan; Enter
// imports exactly what was read.
type entraSummaryScreen struct {
	base
	sess    *entraSession
	chooser screenID
	groups  []directory.Entry
	command string
	args    []string // the command's arguments, for its layout
	spin    spinner.Model
	watch   throttleWatch

	planning bool
	planned  *plannedMsg
	err      string
	p        pager
	// started is set by the Enter that starts the import: a second Enter,
	// queued before the progress screen arrives, starts nothing.
	started bool
}

func newEntraSummaryScreen(sh *shared, sess *entraSession, chooser screenID) *entraSummaryScreen {
	s := &entraSummaryScreen{base: newBase(sh), sess: sess, chooser: chooser}
	s.spin = spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(sh.st.accent))
	return s
}

// Title implements screen.
func (s *entraSummaryScreen) Title() string { return "Summary" }

// Init implements screen: read the groups and plan.
func (s *entraSummaryScreen) Init() tea.Cmd {
	s.groups = s.sess.picked()
	req := &s.sess.req
	req.Tenant, req.Groups = s.sess.source.Name, nil
	for _, g := range s.groups {
		req.Groups = append(req.Groups, s.sess.groupArg(g))
	}
	s.command, s.args = req.CommandLine(), req.Args()
	return s.plan()
}

// plan reads the groups and plans, in a command.
func (s *entraSummaryScreen) plan() tea.Cmd {
	req := &s.sess.req
	in := store.Input{Source: req.Tenant, Actor: s.sh.cfg.Actor, Command: s.command, Options: req.Options()}
	s.planning, s.planned, s.err, s.started = true, nil, "", false
	s.render()
	tg, ctx := s.renew()
	st, dir, groups := s.sh.cfg.Store, directory.Directory(s.sess.dir), s.groups
	// Graph's throttling is shown while the groups are read.
	reading, read := context.WithCancel(ctx)
	planCmd := func() tea.Msg {
		defer read()
		return plan(ctx, tg, st, dir, in, groups)
	}
	return tea.Batch(planCmd, s.watch.start(s.sess.dir.ev, s.id, reading), s.spin.Tick)
}

func (s *entraSummaryScreen) restyle() {
	s.spin.Style = s.sh.st.accent
	s.render()
}

// SetSize implements screen.
func (s *entraSummaryScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.p.SetHeight(h - 1)
	s.render()
}

// Help implements screen.
func (s *entraSummaryScreen) Help() helpMap {
	k := s.sh.keys
	enter := with(k.Enter, "import")
	if s.err != "" {
		enter = with(k.Enter, "read again")
	}
	return helpMap{
		short: []key.Binding{enter, k.Yank, k.Up, k.Down, with(k.Back, "groups")},
		full: [][]key.Binding{k.navKeys(), {with(k.Enter, "start the import"),
			with(k.Yank, "copy the command line (OSC 52)"), with(k.Back, "back to the groups")}},
	}
}

// Update implements screen.
func (s *entraSummaryScreen) Update(msg tea.Msg) tea.Cmd {
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

func (s *entraSummaryScreen) start() tea.Cmd {
	switch {
	case s.sh.cfg.ReadOnly:
		return statusErr("Read-only session: importing is not allowed.")
	case s.planning:
		return status("Still reading the groups…")
	case s.planned == nil || s.err != "":
		return s.plan() // read again
	case s.started:
		return nil
	}
	s.started = true
	j := job{
		title:    "Importing from " + s.sess.source.Name,
		verb:     "import",
		in:       s.planned.prepared.Input,
		total:    planTotal(s.planned.run),
		returnTo: s.chooser,
		events:   s.sess.dir.ev,
	}
	return s.push(newProgressScreen(s.sh, j))
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

// summaryListMax is how many updated, skipped or failed entries the summary names
// (the completion report names them all).
const summaryListMax = 40

func (s *entraSummaryScreen) render() {
	st := s.sh.st
	w := s.width
	const lw = 19
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	addField := func(label, value string) {
		for i, l := range wrapHard(visible.String(value), max(10, w-lw-4)) {
			if i > 0 {
				label = ""
			}
			add(field(s.sh, label, l, lw))
		}
	}
	add(st.heading.Render(cut("Import from "+visible.String(s.sess.source.Name)+" (Microsoft Entra ID)", w)), "")
	names := make([]string, 0, len(s.groups))
	for _, g := range s.groups {
		n := g.Name
		if g.MemberCount >= 0 {
			n += fmt.Sprintf(" (%s)", plural(g.MemberCount, "member", "members"))
		}
		names = append(names, n)
	}
	addField("Groups", strings.Join(names, ", "))
	if s.sess.req.AddNew {
		addField("Add new users", "yes — enabled (disabled in Entra stay disabled)")
	} else {
		addField("Add new users", "no — skip users not in the store yet")
	}
	if s.sess.req.UpdateExisting {
		addField("Update existing", "yes — refresh users imported before or matched by email")
	} else {
		addField("Update existing", "no — skip users imported before or matched by email")
	}
	roles := "none"
	if len(s.sess.req.Roles) > 0 {
		roles = store.FormatAssignments(s.sess.req.Roles) + " — the new groups get them; members hold them"
	}
	addField("Roles for new users", roles)
	add("")
	var listed []string
	switch {
	case s.planning:
		add("  " + s.spin.View() + fmt.Sprintf("Reading %s from %s and planning…", plural(len(s.groups), "group", "groups"), s.sess.source.Name))
	case s.err != "":
		add(st.err.Render(glyphWarning + " Nothing can be imported yet:"))
		for _, l := range wrapHard(visible.String(s.err), max(10, w-4)) {
			add("  " + l)
		}
		add(st.accent.Render("  Enter reads the groups again."))
	case s.planned != nil && s.planned.run != nil:
		run := s.planned.run
		add(st.heading.Render("What will happen"))
		uc, un := tally(run, directory.TypeUser)
		gc, _ := tally(run, directory.TypeGroup)
		add(fmt.Sprintf("  %-7s %s", "Users", plural(un, "member", "members")+": "+countsLine(uc, true)))
		add(fmt.Sprintf("  %-7s %s", "Groups", countsLine(gc, true)))
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

// View implements screen.
func (s *entraSummaryScreen) View() string {
	st := s.sh.st
	footer := st.accent.Render("Press Enter to import, Esc to go back.")
	switch {
	case s.planning:
		footer = st.dim.Render("Reading the groups… Esc goes back.")
	case s.err != "":
		footer = st.accent.Render("Press Enter to read the groups again, Esc to go back.")
	}
	if more := s.p.More(); more != "" {
		footer += "  " + st.dim.Render(more)
	}
	return s.p.View() + "\n" + footer
}

package tui

import (
	"errors"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// diffMsg is the result of store.Diff.
type diffMsg struct {
	tag   tag
	diffs []store.FieldDiff
	err   error
}

func (m diffMsg) target() tag { return m.tag }

// groupPlanMsg is what importing a group would do: the store's plan of
// the group read whole, and the field differences of its members that
// would be updated.
type groupPlanMsg struct {
	tag      tag
	run      *store.Run
	warnings []string
	fields   map[string][]store.FieldDiff // by member name
	err      error
}

func (m groupPlanMsg) target() tag { return m.tag }

// diffScreen shows what importing a row that would synchronize changes.
// For a user: field by field, the directory's value beside the store's
// (store.Diff). For a group: what the store's own plan does to it — the
// group read whole (importer.Prepare), then store.Plan with the import's
// options — its members added, updated (with their fields), removed and
// disabled.
type diffScreen struct {
	base
	source string
	e      directory.Entry
	diffs  []store.FieldDiff
	loaded bool
	err    string
	p      pager

	// A group's plan: the directory it is read from, the options of the
	// import, and the plan's outcome.
	dir  directory.Directory
	opts store.Options
	plan *groupPlanMsg
}

func newDiffScreen(sh *shared, source string, e directory.Entry) *diffScreen {
	return &diffScreen{base: newBase(sh), source: source, e: e}
}

// newGroupDiffScreen shows what importing the group e from dir with opts
// would do to it.
func newGroupDiffScreen(sh *shared, dir directory.Directory, opts store.Options, e directory.Entry) *diffScreen {
	return &diffScreen{base: newBase(sh), source: dir.Name(), e: e, dir: dir, opts: opts}
}

// Title implements screen.
func (s *diffScreen) Title() string { return "Differences: " + s.e.Name }

// Init implements screen: load the difference (a group's: read it and plan).
func (s *diffScreen) Init() tea.Cmd {
	if s.e.Type == directory.TypeGroup && s.dir != nil {
		return s.planGroup()
	}
	tg, _ := s.renew()
	st, source, e := s.sh.cfg.Store, s.source, s.e
	return func() tea.Msg {
		d, err := st.Diff(source, e)
		return diffMsg{tag: tg, diffs: d, err: err}
	}
}

// planGroup reads the group whole and asks the store what importing it
// would do, in a command; the members it would update are compared field
// by field (store.Diff).
func (s *diffScreen) planGroup() tea.Cmd {
	tg, ctx := s.renew()
	st, dir, e, source := s.sh.cfg.Store, s.dir, s.e, s.source
	in := store.Input{Source: source, Actor: s.sh.cfg.Actor, Options: s.opts}
	return func() tea.Msg {
		p, err := importer.Prepare(ctx, st, dir, in, []directory.Entry{e})
		if err != nil {
			return groupPlanMsg{tag: tg, err: err}
		}
		run, err := p.Plan(ctx, st)
		if err != nil {
			return groupPlanMsg{tag: tg, err: err}
		}
		msg := groupPlanMsg{tag: tg, run: run, warnings: p.Warnings, fields: map[string][]store.FieldDiff{}}
		members := map[string]directory.Entry{}
		for _, g := range p.Input.Groups {
			for _, m := range g.Read.Members {
				members[m.Name] = m
			}
		}
		for _, en := range run.Entries {
			m, ok := members[en.Name]
			if en.Type != directory.TypeUser || en.Action != store.ActionUpdated || !ok {
				continue
			}
			if d, err := st.Diff(source, m); err == nil && len(d) > 0 {
				msg.fields[en.Name] = d
			}
		}
		return msg
	}
}

// SetSize implements screen.
func (s *diffScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.p.SetHeight(h)
	s.render()
}

// Help implements screen.
func (s *diffScreen) Help() helpMap {
	k := s.sh.keys
	return helpMap{short: []key.Binding{k.Up, k.Down, with(k.Back, "back to the results")}}
}

// Update implements screen.
func (s *diffScreen) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case diffMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.loaded = true
		switch {
		case errors.Is(msg.err, store.ErrNotFound):
			s.err = fmt.Sprintf("%s was not imported from %s before: importing it creates it.", s.e.Name, s.source)
		case msg.err != nil:
			s.err = "Could not compare with the store: " + msg.err.Error()
		}
		s.diffs = msg.diffs
		s.render()
	case groupPlanMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.loaded = true
		if msg.err != nil {
			s.err = "Could not work out what importing the group would do: " + msg.err.Error()
		}
		s.plan = &msg
		s.render()
	case mouseMsg:
		s.p.Wheel(msg)
	case tea.KeyPressMsg:
		k := &s.sh.keys
		switch {
		case s.p.Navigate(msg, k.Keys):
		case key.Matches(msg, k.Back), key.Matches(msg, k.Enter), msg.String() == "left":
			return s.back()
		}
	}
	return nil
}

func (s *diffScreen) render() {
	st := s.sh.st
	kind := "user"
	if s.e.Type == directory.TypeGroup {
		kind = "group"
	}
	lines := []string{
		st.heading.Render(visible.String(fmt.Sprintf("What synchronizing %s %s from %s would change", kind, s.e.Name, s.source))),
		"",
	}
	switch {
	case !s.loaded && s.dir != nil && s.e.Type == directory.TypeGroup:
		lines = append(lines, st.dim.Render("Reading the group from "+visible.String(s.source)+" and planning…"))
	case !s.loaded:
		lines = append(lines, st.dim.Render("Comparing with the store…"))
	case s.plan != nil && s.err == "":
		lines = append(lines, s.groupLines()...)
	case s.err != "":
		lines = append(lines, st.err.Render(glyphWarning+" "+visible.String(s.err)))
	case len(s.diffs) == 0:
		lines = append(lines, "Nothing would change: the store already holds what the directory says.",
			"", st.dim.Render("Role assignments are never changed by an import or a sync."))
	default:
		colW := max(12, (s.width-16)/2)
		lines = append(lines, st.label.Render("  "+pad("FIELD", 12)+"  "+pad("IN THE DIRECTORY", colW)+"  IN THE STORE"))
		for _, d := range s.diffs {
			lines = append(lines, "  "+pad(d.Field, 12)+"  "+st.accent.Render(pad(orDash(visible.String(d.Directory)), colW))+"  "+orDash(visible.String(d.Store)))
		}
		lines = append(lines, "", st.dim.Render("Role assignments are kept unchanged."))
	}
	s.p.SetLines(lines)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// View implements screen.
func (s *diffScreen) View() string { return s.p.View() }

// planVerbs are the plan's actions in the future tense.
var planVerbs = map[store.Action]string{
	store.ActionCreated: "create", store.ActionUpdated: "update", store.ActionUnchanged: "keep",
	store.ActionSkipped: "skip", store.ActionFailed: "fail", store.ActionRemoved: "remove",
	store.ActionDisabled: "disable",
}

// groupLines renders a group's plan: the group itself, then every member
// the plan changes (added, updated with its fields, removed, disabled,
// skipped or failed, with the store's reason), then how many stay as
// they are.
func (s *diffScreen) groupLines() []string {
	st := s.sh.st
	run := s.plan.run
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	w := max(20, s.width-4)
	entry := func(e store.RunEntry) {
		line := fmt.Sprintf("%-8s %s", planVerbs[e.Action], e.Name)
		if e.Reason != "" {
			line += " — " + e.Reason
		}
		for i, l := range wrapHard(visible.String(line), w) {
			if i > 0 {
				l = "           " + l
			}
			add("  " + l)
		}
		for _, d := range s.plan.fields[e.Name] {
			add(st.dim.Render(cut(visible.String(fmt.Sprintf("             %s: %s → %s", d.Field, orDash(d.Store), orDash(d.Directory))), s.width)))
		}
	}
	unchanged, changes := 0, 0
	notes := append([]string(nil), s.plan.warnings...)
	if run.Error != "" {
		notes = append(notes, run.Error)
	}
	for _, e := range run.Entries {
		if e.Type == directory.TypeGroup && e.Block == store.BlockedThreshold {
			notes = append(notes, e.Reason) // the removal threshold stops the sync
			continue
		}
		if e.Type == directory.TypeGroup && e.Name == s.e.Name {
			if e.Action == store.ActionUnchanged {
				add("Group " + visible.String(e.Name) + ": its name and DN stay as they are.")
			} else {
				entry(e)
			}
			continue
		}
		if e.Action == store.ActionUnchanged {
			unchanged++
			continue
		}
		if changes == 0 {
			add("", st.heading.Render("Members"))
		}
		changes++
		entry(e)
	}
	if changes == 0 {
		add("", "No member would change: the store already holds what the directory says.")
	}
	if unchanged > 0 {
		add(st.dim.Render("  " + plural(unchanged, "member stays", "members stay") + " as they are."))
	}
	if len(notes) > 0 {
		add("")
	}
	for _, wn := range notes {
		for i, l := range wrapHard(visible.String(wn), w) {
			prefix := "  "
			if i == 0 {
				prefix = st.warn.Render(glyphWarning) + " "
			}
			add(prefix + l)
		}
	}
	add("", st.dim.Render("Role assignments are kept unchanged."))
	return lines
}

package tui

import (
	"errors"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
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

// diffScreen shows, field by field, the directory's value beside the
// store's for a row that would synchronize: what the import will change.
type diffScreen struct {
	base
	source string
	e      directory.Entry
	diffs  []store.FieldDiff
	loaded bool
	err    string
	p      pager
}

func newDiffScreen(sh *shared, source string, e directory.Entry) *diffScreen {
	return &diffScreen{base: newBase(sh), source: source, e: e}
}

// Title implements screen.
func (s *diffScreen) Title() string { return "Differences: " + s.e.Name }

// Init implements screen: load the difference.
func (s *diffScreen) Init() tea.Cmd {
	tg, _ := s.renew()
	st, source, e := s.sh.cfg.Store, s.source, s.e
	return func() tea.Msg {
		d, err := st.Diff(source, e)
		return diffMsg{tag: tg, diffs: d, err: err}
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
	case mouseMsg:
		s.p.Wheel(msg)
	case tea.KeyPressMsg:
		k := &s.sh.keys
		switch {
		case s.p.Navigate(msg, k):
		case key.Matches(msg, k.Back), key.Matches(msg, k.Enter), msg.String() == "left":
			return back()
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
	case !s.loaded:
		lines = append(lines, st.dim.Render("Comparing with the store…"))
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

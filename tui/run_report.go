package tui

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// runLoadedMsg is the run as the journal holds it.
type runLoadedMsg struct {
	tag tag
	run store.Run
	err error
}

func (m runLoadedMsg) target() tag { return m.tag }

// savedMsg is the outcome of saving a report.
type savedMsg struct {
	tag  tag
	path string
	err  error
}

func (m savedMsg) target() tag { return m.tag }

// reportScreen is the completion report of an import or sync: created,
// updated, unchanged, skipped (with the reason), failed (with the error),
// removed and disabled entries. It is the run the journal holds; s saves it
// as JSON (the shape of 'usersync runs show --json') or CSV.
type reportScreen struct {
	base
	j        job
	run      store.Run
	applyErr error // an error Apply returned along with its run
	p        pager
	path     textinput.Model
	saving   bool // the path prompt is shown
	note     string
	noteErr  bool
}

func newReportScreen(sh *shared, j job, run *store.Run, applyErr error) *reportScreen {
	s := &reportScreen{base: newBase(sh), j: j, run: *run, applyErr: applyErr}
	s.path = newInput(sh, "Save as: ", "")
	s.render()
	return s
}

// Title implements screen.
func (s *reportScreen) Title() string { return fmt.Sprintf("Run %d", s.run.ID) }

// Init implements screen: read the run back from the journal.
func (s *reportScreen) Init() tea.Cmd {
	tg, _ := s.renew()
	st, id := s.sh.cfg.Store, s.run.ID
	return func() tea.Msg {
		run, err := st.GetRun(id)
		return runLoadedMsg{tag: tg, run: run, err: err}
	}
}

func (s *reportScreen) restyle() { s.path.SetStyles(s.sh.st.input) }

// Typing implements screen.
func (s *reportScreen) Typing() bool { return s.saving }

// SetSize implements screen.
func (s *reportScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.p.SetHeight(h - 2)
	s.path.SetWidth(max(10, w-12))
	s.render()
}

// Help implements screen.
func (s *reportScreen) Help() helpMap {
	k := s.sh.keys
	if s.saving {
		return helpMap{short: []key.Binding{with(k.Enter, "save"), with(k.Back, "cancel")}}
	}
	return helpMap{
		short: []key.Binding{k.Up, k.Down, k.Save, with(k.Back, "done")},
		full:  [][]key.Binding{k.navKeys(), {with(k.Save, "save as JSON or CSV (by the name's extension)"), with(k.Back, "done"), with(k.Enter, "done")}},
	}
}

// Update implements screen.
func (s *reportScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case runLoadedMsg:
		if s.fresh(msg.tag) && msg.err == nil {
			s.run = msg.run
			s.render()
		}
	case savedMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		if msg.err != nil {
			s.note, s.noteErr = "Could not save the report: "+msg.err.Error(), true
		} else {
			s.note, s.noteErr = "Saved the report to "+msg.path, false
		}
	case tea.PasteMsg:
		if s.saving {
			var cmd tea.Cmd
			s.path, cmd = s.path.Update(msg)
			return cmd
		}
	case mouseMsg:
		s.p.Wheel(msg)
	case tea.KeyPressMsg:
		if s.saving {
			switch {
			case key.Matches(msg, k.Back):
				s.saving = false
				s.path.Blur()
				return nil
			case key.Matches(msg, k.Enter):
				s.saving = false
				s.path.Blur()
				return s.save(strings.TrimSpace(s.path.Value()))
			}
			var cmd tea.Cmd
			s.path, cmd = s.path.Update(msg)
			return cmd
		}
		switch {
		case s.p.Navigate(msg, k.Keys):
		case key.Matches(msg, k.Save):
			s.saving = true
			s.note = ""
			s.path.SetValue(fmt.Sprintf("usersync-run-%d.json", s.run.ID))
			s.path.CursorEnd()
			return s.path.Focus()
		case key.Matches(msg, k.Back), key.Matches(msg, k.Enter):
			return s.backTo(s.j.returnTo, refreshMsg{note: fmt.Sprintf("Run %d %s.", s.run.ID, s.run.Status)})
		}
	}
	return nil
}

// save writes the report in a command.
func (s *reportScreen) save(path string) tea.Cmd {
	if path == "" {
		path = fmt.Sprintf("usersync-run-%d.json", s.run.ID)
	}
	tg, _ := s.renew()
	run := s.run
	return func() tea.Msg {
		data, err := encodeRun(run, path)
		if err == nil {
			err = os.WriteFile(path, data, 0o600)
		}
		if abs, aerr := filepath.Abs(path); aerr == nil {
			path = abs
		}
		return savedMsg{tag: tg, path: path, err: err}
	}
}

// encodeRun encodes a run as CSV when path ends in .csv, as JSON otherwise
// (the JSON is store.Run's: the shape of 'usersync runs show --json').
func encodeRun(run store.Run, path string) ([]byte, error) {
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write([]string{"run", "name", "type", "action", "reason", "group"})
		for _, e := range run.Entries {
			_ = w.Write([]string{fmt.Sprint(run.ID), e.Name, string(e.Type), string(e.Action), e.Reason, e.Group})
		}
		w.Flush()
		return b.Bytes(), w.Error()
	}
	// The contract's run object, the bytes `runs show ID --json` prints.
	return run.JSONLine()
}

// reportSections are the report's groups of entries, in order.
var reportSections = []struct {
	action store.Action
	title  string
	reason bool
}{
	{store.ActionCreated, "Created", false},
	{store.ActionUpdated, "Updated", true},
	{store.ActionUnchanged, "Unchanged", false},
	{store.ActionSkipped, "Skipped", true},
	{store.ActionFailed, "Failed", true},
	{store.ActionRemoved, "Removed from groups", true},
	{store.ActionDisabled, "Disabled", true},
}

func (s *reportScreen) render() {
	st := s.sh.st
	r := s.run
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	head := fmt.Sprintf("Run %d: %s", r.ID, r.Status)
	add(st.heading.Render(head))
	when := r.Started.Local().Format("2006-01-02 15:04:05")
	if !r.Finished.IsZero() {
		when += fmt.Sprintf(" (%s)", r.Finished.Sub(r.Started).Round(time.Millisecond))
	}
	add(field(s.sh, "Started", when, 8), field(s.sh, "By", r.Actor, 8), field(s.sh, "Source", r.Source, 8))
	if r.Mode == store.ModeIncremental || r.Note != "" {
		// How a sync read its directory: only the changes, or fully (and why).
		read := string(r.Mode)
		if r.Note != "" {
			read += " — " + r.Note
		}
		for i, l := range wrapHard(visible.String(read), max(10, s.width-12)) {
			label := ""
			if i == 0 {
				label = "Read"
			}
			add(field(s.sh, label, l, 8))
		}
	}
	for i, l := range wrapHard(visible.String(r.Command), max(10, s.width-12)) {
		label := ""
		if i == 0 {
			label = "Command"
		}
		add(field(s.sh, label, l, 8))
	}
	// Long lines wrap, never cut: a reason is read to its end.
	w := max(10, s.width-4)
	wrapped := func(style lipgloss.Style, text string) {
		for i, l := range wrapHard(text, w) {
			if i > 0 {
				l = "  " + l
			}
			add(style.Render(l))
		}
	}
	switch r.Status {
	case store.RunInterrupted:
		add("")
		wrapped(st.warn, glyphWarning+" Interrupted: the batches already written stay. Run the same "+s.j.verb+" again to finish.")
	case store.RunFailed:
		add("")
		wrapped(st.err, glyphWarning+" Failed: "+visible.String(r.Error))
	}
	if r.Error != "" && r.Status != store.RunFailed {
		wrapped(st.warn, glyphWarning+" "+visible.String(r.Error))
	}
	if s.applyErr != nil && (r.Error == "" || !strings.Contains(s.applyErr.Error(), r.Error)) {
		wrapped(st.warn, glyphWarning+" "+visible.String(s.applyErr.Error()))
	}
	add("", "  "+countsLine(r.Counts, false))
	byAction := map[store.Action][]store.RunEntry{}
	for _, e := range r.Entries {
		byAction[e.Action] = append(byAction[e.Action], e)
	}
	for _, sec := range reportSections {
		es := byAction[sec.action]
		if len(es) == 0 {
			continue
		}
		add("", st.heading.Render(fmt.Sprintf("%s (%d)", sec.title, len(es))))
		for _, e := range es {
			g := glyphUser
			if e.Type == directory.TypeGroup {
				g = glyphGroup
			}
			name := visible.String(e.Name)
			more := ""
			if e.Group != "" {
				more += " (from " + visible.String(e.Group) + ")"
			}
			if sec.reason && e.Reason != "" {
				more += " — " + visible.String(e.Reason)
			}
			if ansi.StringWidth(name+more)+4 <= s.width {
				add("  " + g + " " + name + st.dim.Render(more))
				continue
			}
			// Too long for one line: the name, then the rest wrapped under it.
			for i, l := range wrapHard(name+more, max(10, s.width-6)) {
				if i == 0 {
					add("  " + g + " " + l)
				} else {
					add(st.dim.Render("      " + l))
				}
			}
		}
	}
	s.p.SetLines(lines)
}

// View implements screen.
func (s *reportScreen) View() string {
	st := s.sh.st
	var footer string
	switch {
	case s.saving:
		footer = s.path.View() + "\n" + st.dim.Render("A name ending in .csv saves CSV; anything else saves JSON.")
	case s.note != "" && s.noteErr:
		footer = st.err.Render(glyphWarning+" "+visible.String(s.note)) + "\n"
	case s.note != "":
		footer = st.ok.Render(visible.String(s.note)) + "\n"
	default:
		more := s.p.More()
		footer = st.dim.Render("s saves the report · Esc returns") + "\n" + st.dim.Render(more)
	}
	return s.p.View() + "\n" + footer
}

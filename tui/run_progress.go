package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/visible"
)

// job is an import or a sync to apply: the input, and where to go after
// the completion report.
type job struct {
	title    string // "Importing from dc01"
	verb     string // "import", "synchronization"
	in       store.Input
	total    int      // entries expected (from the plan), 0 when unknown
	returnTo screenID // the screen Esc on the report goes back to
	// prepare, when set, builds the input first, in the background (a
	// sync reads its group from the directory).
	prepare func(ctx context.Context) (store.Input, error)
	// dir, the directory prepare reads, is closed once it has read.
	dir directory.Directory
	// events, for an Entra tenant, report Graph's throttling while the
	// job reads (nil for other directories).
	events *entraEvents
}

// progressMsg is the newest progress of a running apply.
type progressMsg struct {
	tag tag
	p   store.Progress
}

func (m progressMsg) target() tag { return m.tag }

// appliedMsg is the outcome of store.Apply.
type appliedMsg struct {
	tag tag
	in  *store.Input // the prepared input, when the job prepared one
	run *store.Run
	err error
}

func (m appliedMsg) target() tag { return m.tag }

// applyRun runs store.Apply in the background and reports to the screen
// through two channels: progress (newest only, so a slow UI never holds
// the import back) and the final outcome.
type applyRun struct {
	updates chan store.Progress
	done    chan appliedMsg
}

func startApply(ctx context.Context, tg tag, st *store.Store, j job) *applyRun {
	r := &applyRun{updates: make(chan store.Progress, 1), done: make(chan appliedMsg, 1)}
	go func() {
		in := j.in
		var prepared *store.Input
		if j.prepare != nil {
			var err error
			in, err = j.prepare(ctx)
			if j.dir != nil {
				j.dir.Close() // the read is done: the apply needs the store only
			}
			if err != nil {
				r.done <- appliedMsg{tag: tg, err: err}
				return
			}
			prepared = &in
		}
		run, err := st.Apply(ctx, in, func(p store.Progress) {
			for {
				select {
				case r.updates <- p:
					return
				default:
				}
				select { // drop the older, unread progress
				case <-r.updates:
				default:
				}
			}
		})
		r.done <- appliedMsg{tag: tg, in: prepared, run: run, err: err}
	}()
	return r
}

// wait returns the next progress or the outcome.
func (r *applyRun) wait(tg tag) tea.Cmd {
	return func() tea.Msg {
		select {
		case p := <-r.updates:
			return progressMsg{tag: tg, p: p}
		case d := <-r.done:
			return d
		}
	}
}

// progressScreen shows an import or a sync as it runs: a bar, the counts
// per action, the current entry, the rate and an ETA. Esc asks, then
// cancels: the batches already written stay.
type progressScreen struct {
	base
	j       job
	bar     progress.Model
	run     *applyRun
	running bool
	started time.Time
	last    store.Progress

	confirmCancel bool
	cancelling    bool
	askForce      bool        // the threshold stopped a sync: apply anyway?
	held          *appliedMsg // the run the threshold stopped, reported on "no"
	reading       bool        // the job is still reading its input (a group)
	err           string      // the apply failed without a run
	now           func() time.Time
	watch         throttleWatch // Microsoft Graph's throttling, for an Entra job
}

func newProgressScreen(sh *shared, j job) *progressScreen {
	s := &progressScreen{base: newBase(sh), j: j, now: time.Now}
	s.bar = progress.New(progress.WithFillCharacters('█', '░'), progress.WithWidth(60))
	return s
}

// Title implements screen.
func (s *progressScreen) Title() string { return s.j.title }

// Init implements screen: start applying.
func (s *progressScreen) Init() tea.Cmd { return s.start() }

func (s *progressScreen) start() tea.Cmd {
	tg, ctx := s.renew()
	s.running, s.cancelling, s.confirmCancel, s.askForce, s.err = true, false, false, false, ""
	s.started = s.now()
	s.last = store.Progress{Total: s.j.total}
	s.reading = s.j.prepare != nil
	j := s.j
	var listen tea.Cmd
	if j.events != nil && j.prepare != nil {
		// Graph's throttling is shown while the job reads its input.
		reading, read := context.WithCancel(ctx)
		prepare := j.prepare
		j.prepare = func(ctx context.Context) (store.Input, error) {
			defer read()
			return prepare(ctx)
		}
		listen = s.watch.start(j.events, s.id, reading)
	}
	s.run = startApply(ctx, tg, s.sh.cfg.Store, j)
	return tea.Batch(s.run.wait(tg), listen)
}

// Busy implements runner.
func (s *progressScreen) Busy() bool { return s.running }

// Stop implements runner: cancel between batches.
func (s *progressScreen) Stop() {
	s.cancelling = true
	s.cancel()
}

// Close implements screen. A running apply is stopped, never abandoned
// half-way: the root waits for it before quitting.
func (s *progressScreen) Close() { s.Stop() }

// SetSize implements screen.
func (s *progressScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.bar.SetWidth(max(20, min(w-4, 72)))
}

// Help implements screen.
func (s *progressScreen) Help() helpMap {
	k := s.sh.keys
	switch {
	case s.confirmCancel, s.askForce:
		return helpMap{short: []key.Binding{k.Yes, k.No}}
	case s.running:
		return helpMap{short: []key.Binding{with(k.Back, "cancel")}}
	}
	return helpMap{short: []key.Binding{with(k.Back, "back")}}
}

// Update implements screen.
func (s *progressScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	if cmd, ok := s.watch.update(msg); ok {
		return cmd
	}
	switch msg := msg.(type) {
	case progressMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.last = msg.p
		s.reading = false
		return s.run.wait(msg.tag)
	case appliedMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.running = false
		if msg.in != nil {
			// Keep what was read: a forced re-run applies the same read.
			s.j.in, s.j.prepare = *msg.in, nil
		}
		switch {
		case msg.run != nil && msg.err == nil && msg.run.OverThreshold() && !s.j.in.Options.Force:
			s.askForce, s.held = true, &msg
			s.err = msg.run.Error
			return nil
		case msg.run == nil && msg.err != nil:
			s.err = msg.err.Error()
			return nil
		case msg.run == nil:
			s.err = "The store returned no run."
			return nil
		}
		s.sh.changes++
		return s.replace(newReportScreen(s.sh, s.j, msg.run, msg.err))
	case tea.KeyPressMsg:
		switch {
		case s.askForce:
			s.askForce = false
			if key.Matches(msg, k.Yes) {
				s.j.in.Options.Force = true
				s.j.in.Command = strings.Replace(s.j.in.Command, " --yes", " --force --yes", 1)
				return s.start()
			}
			held := s.held
			s.held = nil
			s.sh.changes++
			return s.replace(newReportScreen(s.sh, s.j, held.run, held.err))
		case s.confirmCancel:
			s.confirmCancel = false
			if key.Matches(msg, k.Yes) {
				s.Stop()
			}
			return nil
		case key.Matches(msg, k.Back):
			if s.running {
				if !s.cancelling {
					s.confirmCancel = true
				}
				return nil
			}
			return s.backTo(s.j.returnTo, nil)
		case key.Matches(msg, k.Enter) && !s.running:
			return s.backTo(s.j.returnTo, nil)
		}
	}
	return nil
}

// View implements screen.
func (s *progressScreen) View() string {
	st := s.sh.st
	p := s.last
	total := p.Total
	if total == 0 {
		total = s.j.total
	}
	lines := []string{st.heading.Render(visible.String(s.j.title)), ""}
	if s.askForce {
		lines = append(lines,
			st.warn.Render(glyphWarning+" "+visible.String(s.err)),
			"",
			"This synchronization would remove or disable more users than the safety",
			"threshold allows (10% of the group or 500 users, whichever is smaller).",
			"Nobody was removed or disabled; the other changes were applied.",
			"",
			st.accent.Render("Apply it anyway? (y/N)"))
		return joinLines(lines)
	}
	if s.err != "" {
		lines = append(lines, st.err.Render(glyphWarning+" The "+s.j.verb+" failed: "+visible.String(s.err)), "", "Nothing was changed.", "",
			st.dim.Render("Esc goes back."))
		return joinLines(lines)
	}
	pct := 0.0
	if total > 0 {
		pct = float64(p.Done) / float64(total)
	}
	s.bar.FullColor, s.bar.EmptyColor = st.barFull, st.barEmpty
	lines = append(lines, s.bar.ViewAs(pct))
	lines = append(lines, fmt.Sprintf("%d of %d entries", p.Done, total), "")
	lines = append(lines, "  "+countsLine(p.Counts, false))
	cur := p.Current
	switch {
	case s.reading:
		cur = "reading from the directory…"
	case cur == "":
		cur = "starting…"
	}
	lines = append(lines, "  Current: "+cut(visible.String(cur), max(10, s.width-12)))
	elapsed := s.now().Sub(s.started)
	rate, eta := "—", "—"
	if p.Done > 0 && elapsed > 0 {
		r := float64(p.Done) / elapsed.Seconds()
		rate = fmt.Sprintf("%.0f entries/s", r)
		if total > p.Done && r > 0 {
			eta = time.Duration(float64(total-p.Done) / r * float64(time.Second)).Round(time.Second).String()
		} else {
			eta = "0s"
		}
	}
	lines = append(lines, fmt.Sprintf("  Rate: %s · Elapsed: %s · ETA: %s", rate, elapsed.Round(time.Second), eta))
	if t := s.watch.line(); t != "" {
		style := st.dim
		if s.watch.waiting() {
			style = st.warn
		}
		lines = append(lines, style.Render(cut("  "+visible.String(t), s.width)))
	}
	lines = append(lines, "")
	switch {
	case s.confirmCancel:
		lines = append(lines, st.warn.Render("Cancel the "+s.j.verb+"? Finished batches stay. (y/N)"))
	case s.cancelling:
		lines = append(lines, st.warn.Render("Cancelling: finishing the current batch…"))
	default:
		lines = append(lines, st.dim.Render("Esc cancels: the batches already written stay, nothing is half-written."))
	}
	return joinLines(lines)
}

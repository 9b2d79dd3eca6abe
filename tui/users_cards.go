package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/list"
	"github.com/usersync/usersync/tui/visible"
)

// userLoadedMsg is a user and its effective roles.
type userLoadedMsg struct {
	tag   tag
	user  store.User
	roles []store.EffectiveAssignment
	err   error
}

func (m userLoadedMsg) target() tag { return m.tag }

// copiedMsg is the outcome of store.CopyAssignments: what it granted, and
// what the user copied from holds (to say why nothing was copied).
type copiedMsg struct {
	tag    tag
	from   string
	to     string
	copied []store.Assignment
	held   []store.EffectiveAssignment // from's roles, its own and its groups'
	err    error
}

// copiedNote says exactly what a copy of roles and assignments did: what
// it granted, or that there was nothing to copy and why; warn is set when
// nothing was copied.
func copiedNote(m copiedMsg) (note string, warn bool) {
	var own []store.Assignment
	via := map[string][]store.Assignment{}
	var groups []string
	for _, h := range m.held {
		if h.Via == "" {
			own = append(own, h.Assignment)
			continue
		}
		if _, ok := via[h.Via]; !ok {
			groups = append(groups, h.Via)
		}
		via[h.Via] = append(via[h.Via], h.Assignment)
	}
	var viaParts []string
	for _, g := range groups {
		verb := "comes"
		if len(via[g]) > 1 {
			verb = "come"
		}
		viaParts = append(viaParts, fmt.Sprintf("%s %s through group %s", store.FormatAssignments(via[g]), verb, g))
	}
	notGiven := ""
	if len(viaParts) > 0 {
		notGiven = strings.Join(viaParts, "; ") + ", which copying does not give"
	}
	switch {
	case len(m.copied) > 0:
		note = fmt.Sprintf("Copied from %s to %s: %s.", m.from, m.to, store.FormatAssignments(m.copied))
		if n := len(own) - len(m.copied); n > 0 {
			note += fmt.Sprintf(" %s already held the other %s.", m.to, plural(n, "one", "ones"))
		}
		if notGiven != "" {
			note += " Not copied: " + notGiven + "."
		}
		return note, false
	case len(own) > 0:
		note = fmt.Sprintf("Nothing copied: %s already holds every role %s holds of their own (%s).", m.to, m.from, store.FormatAssignments(own))
		if notGiven != "" {
			note += " " + notGiven + "."
		}
		return note, true
	case notGiven != "":
		return fmt.Sprintf("Nothing copied: %s holds no roles of their own; %s.", m.from, notGiven), true
	}
	return fmt.Sprintf("Nothing copied: %s holds no roles at all.", m.from), true
}

func (m copiedMsg) target() tag { return m.tag }

// userScreen is a user's details: fields, kind, source, external ID, DN,
// enabled, groups, and the effective roles with where each comes from. c
// copies roles and assignments from another user.
type userScreen struct {
	base
	name       string
	user       store.User
	roles      []store.EffectiveAssignment
	loaded     bool
	err        string
	note       string
	noteErr    bool
	noteWarn   bool
	noteLines  []string // the note, wrapped to the width
	confirm    string   // copying from this user is being confirmed
	copyOnLoad bool     // opened from a menu's "Copy roles…"
	p          pager
}

// setNote shows a note under the card, wrapped (at most 4 lines).
func (s *userScreen) setNote(note string, isErr, warn bool) {
	s.note, s.noteErr, s.noteWarn = note, isErr, warn
	s.wrapNote()
}

func (s *userScreen) wrapNote() {
	s.noteLines = nil
	if s.note != "" {
		s.noteLines = wrapWords(visible.String(s.note), max(10, s.width-2))
		if len(s.noteLines) > 4 {
			s.noteLines = append(s.noteLines[:3], s.noteLines[3]+" …")
		}
	}
	s.p.SetHeight(s.height - 1 - max(1, len(s.noteLines)))
}

func newUserScreen(sh *shared, name string) *userScreen {
	return &userScreen{base: newBase(sh), name: name}
}

// Title implements screen.
func (s *userScreen) Title() string { return s.name }

// Init implements screen.
func (s *userScreen) Init() tea.Cmd { return s.load() }

func (s *userScreen) load() tea.Cmd {
	tg, _ := s.renew()
	st, name := s.sh.cfg.Store, s.name
	return func() tea.Msg {
		u, err := st.GetUser(name)
		if err != nil {
			return userLoadedMsg{tag: tg, err: err}
		}
		roles, err := st.EffectiveRoles(u.Username)
		return userLoadedMsg{tag: tg, user: u, roles: roles, err: err}
	}
}

// SetSize implements screen.
func (s *userScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.wrapNote()
	s.render()
}

// Help implements screen.
func (s *userScreen) Help() helpMap {
	k := s.sh.keys
	if s.confirm != "" {
		return helpMap{short: []key.Binding{k.Yes, k.No}}
	}
	return helpMap{short: []key.Binding{k.Up, k.Down, k.Copy, k.Menu, k.Back}}
}

func (s *userScreen) pickCopySource() tea.Cmd {
	if s.sh.cfg.ReadOnly {
		s.setNote("Read-only session: changing assignments is not allowed.", true, false)
		return nil
	}
	return s.push(newUserPicker(s.sh, "Copy roles from",
		"Copy roles and assignments to "+s.name+" from which user?", s.name, s.tag()))
}

// Update implements screen.
func (s *userScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case userLoadedMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.loaded = true
		s.err = ""
		if msg.err != nil {
			s.err = "Could not read " + s.name + ": " + msg.err.Error()
		}
		s.user, s.roles = msg.user, msg.roles
		s.render()
		if s.copyOnLoad && msg.err == nil {
			s.copyOnLoad = false
			return s.pickCopySource()
		}
	case userPickedMsg:
		s.confirm = msg.name
	case copiedMsg:
		if msg.err != nil {
			s.setNote("Could not copy: "+msg.err.Error(), true, false)
			return nil
		}
		note, warn := copiedNote(msg)
		s.setNote(note, false, warn)
		if len(msg.copied) == 0 {
			return nil
		}
		s.sh.changes++
		return s.load()
	case menuChoiceMsg:
		if msg.action == "copy" {
			return s.pickCopySource()
		}
	case refreshMsg:
		return s.load()
	case mouseMsg:
		s.p.Wheel(msg)
	case tea.KeyPressMsg:
		if s.confirm != "" {
			from := s.confirm
			s.confirm = ""
			if !key.Matches(msg, k.Yes) {
				return nil
			}
			st, to := s.sh.cfg.Store, s.user.Username
			tg := tag{screen: s.id, gen: s.gen}
			return func() tea.Msg {
				m := copiedMsg{tag: tg, from: from, to: to}
				if m.copied, m.err = st.CopyAssignments(from, to); m.err == nil {
					m.held, m.err = st.EffectiveRoles(from)
				}
				return m
			}
		}
		s.setNote("", false, false)
		switch {
		case s.p.Navigate(msg, k.Keys):
		case key.Matches(msg, k.Copy):
			return s.pickCopySource()
		case key.Matches(msg, k.Menu):
			it := menuItem{label: "Copy roles and assignments from…", msg: menuChoiceMsg{tag: s.tag(), action: "copy"}}
			if s.sh.cfg.ReadOnly {
				it.disabled = "Read-only session: changing assignments is not allowed."
			}
			return s.push(newMenu(s.sh, "User "+s.name, []menuItem{it}))
		case key.Matches(msg, k.Back):
			return s.back()
		}
	}
	return nil
}

func (s *userScreen) render() {
	st := s.sh.st
	u := s.user
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	switch {
	case !s.loaded:
		add(st.dim.Render("Loading…"))
		s.p.SetLines(lines)
		return
	case s.err != "":
		add(st.err.Render(glyphWarning + " " + visible.String(s.err)))
		s.p.SetLines(lines)
		return
	}
	add(st.heading.Render(glyphUser+" User "+visible.String(u.Username)), "")
	const lw = 13
	add(field(s.sh, "Display name", u.DisplayName, lw), field(s.sh, "Email", u.Email, lw))
	add(field(s.sh, "Kind", string(u.Kind), lw))
	if u.Kind == store.External {
		add(field(s.sh, "Source", u.Source, lw), field(s.sh, "External ID", u.ExternalID, lw), field(s.sh, "DN", u.DN, lw))
		synced := ""
		if !u.Synced.IsZero() {
			synced = u.Synced.Local().Format(time.DateTime)
		}
		add(field(s.sh, "Synchronized", synced, lw))
	}
	enabled := yesNo(u.Enabled)
	if !u.Enabled {
		enabled = st.warn.Render("no")
	}
	add(styledField(s.sh, "Enabled", enabled, lw))
	add(field(s.sh, "Groups", strings.Join(u.Groups, ", "), lw))
	add("", st.heading.Render("Effective roles"))
	if len(s.roles) == 0 {
		add("  none")
	}
	for _, r := range s.roles {
		from := "own"
		if r.Via != "" {
			from = "via group " + r.Via
		}
		add("  " + pad(visible.String(r.Role), 16) + " " + pad("@ "+visible.String(r.Scope), 20) + " " + st.dim.Render(visible.String(from)))
	}
	s.p.SetLines(lines)
}

// View implements screen.
func (s *userScreen) View() string {
	st := s.sh.st
	var footer string
	switch {
	case s.confirm != "":
		footer = st.accent.Render(visible.String(fmt.Sprintf("Copy the roles and assignments of %s to %s? (y/N)", s.confirm, s.name)))
	case s.note != "":
		style, mark := st.ok, ""
		switch {
		case s.noteErr:
			style, mark = st.err, glyphWarning+" "
		case s.noteWarn:
			style, mark = st.warn, glyphWarning+" "
		}
		lines := make([]string, len(s.noteLines))
		for i, l := range s.noteLines {
			if i > 0 {
				mark = strings.Repeat(" ", ansi.StringWidth(mark))
			}
			lines[i] = style.Render(mark + l)
		}
		footer = joinLines(lines)
	case s.sh.cfg.ReadOnly:
		footer = st.dim.Render("Read-only session.")
	default:
		footer = st.dim.Render("c copies roles and assignments from another user")
	}
	return s.p.View() + "\n\n" + footer
}

// groupLoadedMsg is a group read from the store.
type groupLoadedMsg struct {
	tag   tag
	group store.Group
	users map[string]store.User
	err   error
}

func (m groupLoadedMsg) target() tag { return m.tag }

// groupScreen is a group's details card: fields, roles, members, and the
// Synchronize button (s, or Synchronize group in the action menu).
type groupScreen struct {
	base
	name       string
	g          store.Group
	loaded     bool
	err        string
	note       string
	noteErr    bool
	members    list.Table[string]
	syncOnLoad bool
	// syncing is set by the key that starts a sync: a second one, queued
	// before the next screen arrives, starts nothing. Back on top, the
	// card reloads and may sync again.
	syncing bool
}

func newGroupScreen(sh *shared, name string) *groupScreen {
	return &groupScreen{base: newBase(sh), name: name}
}

// Title implements screen.
func (s *groupScreen) Title() string { return s.name }

// Init implements screen.
func (s *groupScreen) Init() tea.Cmd { return s.load() }

// revealed implements revealer: back on top after a sync, the card shows
// the group as it is now.
func (s *groupScreen) revealed() tea.Cmd {
	s.syncing = false
	return s.load()
}

func (s *groupScreen) load() tea.Cmd {
	tg, _ := s.renew()
	st, name := s.sh.cfg.Store, s.name
	return func() tea.Msg {
		g, err := st.GetGroup(name)
		return groupLoadedMsg{tag: tg, group: g, err: err}
	}
}

// groupCardLines is the card's height above the member list.
const groupCardLines = 10

// SetSize implements screen.
func (s *groupScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.members.SetHeight(h - groupCardLines - 2)
}

// Help implements screen.
func (s *groupScreen) Help() helpMap {
	k := s.sh.keys
	if !s.offersSync() {
		// An internal group has nothing to synchronize from: no s, and
		// no action menu (Synchronize group was its one action).
		return helpMap{
			short: []key.Binding{with(k.Enter, "member"), k.Up, k.Down, k.Back},
			full:  [][]key.Binding{k.navKeys(), {with(k.Enter, "open the member"), k.Back}},
		}
	}
	return helpMap{
		short: []key.Binding{k.Sync, k.Menu, k.Up, k.Down, with(k.Enter, "member"), k.Back},
		full:  [][]key.Binding{k.navKeys(), {k.Sync, k.Menu, with(k.Enter, "open the member"), k.Back}},
	}
}

// offersSync reports whether the card offers Synchronize at all: only an
// external group does (whether it can be synchronized now is cannotSync).
func (s *groupScreen) offersSync() bool {
	return s.loaded && s.err == "" && s.g.Kind == store.External
}

// Update implements screen.
func (s *groupScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case groupLoadedMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.loaded = true
		s.err = ""
		if msg.err != nil {
			s.err = "Could not read group " + s.name + ": " + msg.err.Error()
			return nil
		}
		s.g = msg.group
		s.members.Set(msg.group.Members, func(m string) string { return m })
		if s.syncOnLoad {
			s.syncOnLoad = false
			return s.sync()
		}
	case refreshMsg:
		if msg.note != "" {
			s.note, s.noteErr = msg.note, false
		}
		return s.load()
	case menuChoiceMsg:
		if msg.action == "sync" {
			return s.sync()
		}
	case mouseMsg:
		if msg.kind == mouseClick && msg.y == 0 && s.offersSync() && msg.x >= s.width-ansi.StringWidth(s.syncButton())-1 {
			return s.sync()
		}
		before := s.members.Cursor()
		if p := tableMouse(&s.members, msg, groupCardLines+1); p >= 0 && p == before {
			return s.openMember()
		}
	case tea.KeyPressMsg:
		s.note = ""
		switch {
		case s.members.Navigate(msg, k.Keys):
		case key.Matches(msg, k.Sync), key.Matches(msg, k.Menu):
			if !s.offersSync() {
				// Not offered: say why the key does nothing.
				if s.loaded && s.err == "" {
					s.note, s.noteErr = "An internal group has no directory to synchronize from.", false
				}
				return nil
			}
			if key.Matches(msg, k.Sync) {
				return s.sync()
			}
			sync := menuItem{label: "Synchronize group", msg: menuChoiceMsg{tag: s.tag(), action: "sync"}}
			if reason := s.cannotSync(); reason != "" {
				sync.disabled = reason
			}
			return s.push(newMenu(s.sh, "Group "+s.name, []menuItem{sync}))
		case key.Matches(msg, k.Enter):
			return s.openMember()
		case key.Matches(msg, k.Back):
			return s.back()
		}
	}
	return nil
}

func (s *groupScreen) openMember() tea.Cmd {
	if i, ok := s.members.Current(); ok {
		return s.push(newUserScreen(s.sh, *s.members.Item(i)))
	}
	return nil
}

// cannotSync says why the group cannot be synchronized, if it cannot.
func (s *groupScreen) cannotSync() string {
	switch {
	case !s.loaded || s.err != "":
		return "The group is not loaded."
	case s.g.Kind != store.External:
		return "An internal group has no directory to synchronize from."
	case s.sh.cfg.ReadOnly:
		return "Read-only session: synchronizing is not allowed."
	}
	if _, ok := s.source(); !ok {
		return fmt.Sprintf("The group came from %s, which is not configured any more.", s.g.Source)
	}
	return ""
}

func (s *groupScreen) source() (Source, bool) {
	for _, src := range s.sh.cfg.Sources {
		if src.Name == s.g.Source {
			return src, true
		}
	}
	return Source{}, false
}

// sync connects to the group's directory (asking for its password when
// needed), then runs the synchronization with the progress view.
func (s *groupScreen) sync() tea.Cmd {
	if reason := s.cannotSync(); reason != "" {
		s.note, s.noteErr = reason, true
		return nil
	}
	if s.syncing {
		return nil
	}
	s.syncing = true
	src, _ := s.source()
	g := s.g
	sh := s.sh
	returnTo := s.id
	conn := newServersScreen(sh)
	conn.pick = src.Name
	conn.then = func(_ Source, dir directory.Directory) screen {
		j := syncJob(sh, g, dir, returnTo)
		j.events = eventsOf(dir) // an Entra tenant's throttling shows
		return newProgressScreen(sh, j)
	}
	return s.push(conn)
}

// syncJob is the synchronization of one group, the request `usersync sync
// GROUP --yes` makes: read it whole from dir, then apply with the sync's
// options (the group's remembered choices; role assignments never
// change). A read that fails is journaled as a failed run, as the CLI
// journals it.
func syncJob(sh *shared, g store.Group, dir directory.Directory, returnTo screenID) job {
	st := sh.cfg.Store
	req := importer.Sync{Groups: []string{g.Name}}
	return job{
		title:    "Synchronizing group " + g.Name,
		verb:     "synchronization",
		returnTo: returnTo,
		dir:      dir,
		prepare: func(ctx context.Context) (store.Input, error) {
			env := importer.Env{Store: st, Actor: sh.cfg.Actor}
			p, _, err := req.Prepare(ctx, env, dir, []store.Group{g}, req.CommandLine(), true)
			if err != nil {
				return store.Input{}, err
			}
			return p.Input, nil
		},
	}
}

const syncButton = "[ Synchronize ]"

// syncButtonOff is the Synchronize button when it cannot be pressed now
// (read-only session, the source not configured): no brackets and the
// mark of what is not available, so that it looks disabled without
// colour too.
const syncButtonOff = glyphBlocked + " Synchronize"

// syncButton is the button as shown now, unstyled.
func (s *groupScreen) syncButton() string {
	if s.cannotSync() != "" {
		return syncButtonOff
	}
	return syncButton
}

// View implements screen.
func (s *groupScreen) View() string {
	st := s.sh.st
	switch {
	case s.err != "":
		return st.err.Render(glyphWarning + " " + visible.String(s.err))
	case !s.loaded:
		return st.dim.Render("Loading…")
	}
	g := s.g
	const lw = 13
	title := glyphGroup + " Group details: " + visible.String(g.Name)
	head := st.heading.Render(title)
	if s.offersSync() {
		label := s.syncButton()
		btn := st.buttonOn.Render(label)
		if s.cannotSync() != "" {
			btn = st.dim.Render(label)
		}
		head = st.heading.Render(pad(title, max(10, s.width-ansi.StringWidth(label)-1))) + " " + btn
	}
	synced := ""
	if !g.Synced.IsZero() {
		synced = g.Synced.Local().Format(time.DateTime)
	}
	if len(g.Feed) > 0 {
		synced += " · the next sync reads only what changed"
	}
	roles := store.FormatAssignments(g.Roles)
	lines := []string{
		head,
		"",
		field(s.sh, "Kind", string(g.Kind), lw),
		field(s.sh, "Source", g.Source, lw),
		field(s.sh, "External ID", g.ExternalID, lw),
		field(s.sh, "DN", g.DN, lw),
		field(s.sh, "Synchronized", synced, lw),
		field(s.sh, "New members", newMembers(g), lw),
		field(s.sh, "Roles", roles, lw),
		"",
		st.heading.Render(fmt.Sprintf("Members (%d)", len(g.Members))),
	}
	if len(g.Members) == 0 {
		lines = append(lines, "  none")
	}
	from, to := s.members.Visible()
	for p := from; p < to; p++ {
		lines = append(lines, rowLine(s.sh, p == s.members.Cursor(), glyphUser+" "+visible.String(*s.members.Item(s.members.At(p))), s.width))
	}
	for len(lines) < s.height-1 {
		lines = append(lines, "")
	}
	switch {
	case s.note != "" && s.noteErr:
		lines = append(lines, st.err.Render(glyphWarning+" "+visible.String(s.note)))
	case s.note != "":
		lines = append(lines, st.ok.Render(visible.String(s.note)))
	case g.Kind == store.External:
		lines = append(lines, st.dim.Render("s synchronizes the group with "+visible.String(g.Source)+": role assignments are never changed."))
	default:
		lines = append(lines, st.dim.Render("An internal group: made in the application, not synchronized."))
	}
	return joinLines(lines)
}

// newMembers says how a sync adds the group's new members: as the import
// that brought the group in chose.
func newMembers(g store.Group) string {
	switch {
	case g.Kind != store.External:
		return "added by hand"
	case g.Import == nil:
		return "created disabled, pending review (imported before usersync remembered its choices)"
	case g.Import.Enable:
		return "enabled, as the group's import chose"
	}
	return "created disabled, pending review, as the group's import chose"
}

package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
	"github.com/usersync/usersync/tui/list"
	"github.com/usersync/usersync/tui/visible"
)

// importSession is what the wizard's screens share once a source is open:
// the directory, the import being built (the request and the entries
// picked for it) and the screen it returns to. The search screen owns it
// and closes the directory when it leaves; the options and the summary
// read it, never the search screen's fields.
type importSession struct {
	source Source
	dir    directory.Directory
	// homeID is the search screen: where a finished import returns.
	homeID screenID
	// req is the import the wizard's choices make: a search starts it
	// afresh (begin), the search screen names what was picked, the
	// options screen fills in the options, the summary renders and runs
	// it.
	req importer.LDAP
	// selected holds the external IDs of the rows ticked in the results
	// (the results list ticks into it); picked are those entries, in
	// result order, once the person moves on to the options.
	selected map[string]struct{}
	picked   []directory.Entry
}

// begin starts a new import for a search of query: the request's options
// are the defaults (new users disabled, no roles, no user to copy roles
// from), whatever a previous import of the session chose. Going back from
// the summary to the options, or from the options to the results, keeps
// the import; a new search, or the same search again after a run, begins
// the next one.
func (s *importSession) begin(query string) {
	s.req = importer.LDAP{Server: s.source.Name, Query: query}
	if s.selected == nil {
		s.selected = map[string]struct{}{}
	}
	clear(s.selected)
	s.picked = nil
}

// pick records the entries picked for the import; all says that they are
// every result of a complete search (--select all).
func (s *importSession) pick(rows []resultRow, all bool) {
	s.picked = make([]directory.Entry, 0, len(rows))
	s.req.Select = nil
	for _, r := range rows {
		s.picked = append(s.picked, r.e)
		if !all {
			s.req.Select = append(s.req.Select, r.e.Name)
		}
	}
}

func (s *importSession) sourceName() string   { return s.source.Name }
func (s *importSession) heading() string      { return "Import from " + s.source.Name }
func (s *importSession) home() screenID       { return s.homeID }
func (s *importSession) events() *entraEvents { return nil }

func (s *importSession) directory() directory.Directory { return s.dir }

// complete implements importKind: the picks are already in the request.
func (s *importSession) complete(actor string) (string, []string, store.Input, []directory.Entry) {
	req := &s.req
	command := req.CommandLine()
	in := store.Input{Source: req.Server, Actor: actor, Command: command, Options: req.Options()}
	return command, req.Args(), in, s.picked
}

// fields implements importKind.
func (s *importSession) fields() [][2]string {
	var users, groups int
	for _, e := range s.picked {
		if e.Type == directory.TypeGroup {
			groups++
		} else {
			users++
		}
	}
	var sel []string
	if users > 0 {
		sel = append(sel, plural(users, "user", "users"))
	}
	if groups > 0 {
		sel = append(sel, plural(groups, "group", "groups")+" (with their members)")
	}
	o := &s.req
	enable := "no — new users are created disabled, pending review"
	if o.Enable {
		enable = "yes"
	}
	roles := "none"
	if len(o.Roles) > 0 {
		roles = store.FormatAssignments(o.Roles)
	}
	out := [][2]string{{"Selected", strings.Join(sel, " and ")}, {"Enable after import", enable}, {"Roles for new", roles}}
	if o.CopyRolesFrom != "" {
		out = append(out, [2]string{"Copy roles from", o.CopyRolesFrom})
	}
	return out
}

// openedMsg is the result of connecting to a source.
type openedMsg struct {
	tag tag
	dir directory.Directory
	err error
}

func (m openedMsg) target() tag { return m.tag }

// release closes a directory nobody is waiting for any more.
func (m openedMsg) release() {
	if m.dir != nil {
		m.dir.Close()
	}
}

// serversScreen is the wizard's first step: pick a configured directory
// (LDAP servers, Entra tenants beside them), type its password when the
// configuration has none, connect. An Entra tenant opens the sign-in
// screen instead.
type serversScreen struct {
	base
	t          list.Table[Source]
	password   textinput.Model
	asking     bool // the password prompt is shown
	connecting bool
	err        string
	// then, when set, makes the screen that takes the picker's place
	// with the open directory, instead of the search screen (a group sync
	// asks for a connection).
	then func(Source, directory.Directory) screen
	pick string // open this source at once (sync: the group's source)
}

func sourceHay(s Source) string { return s.Name + " " + string(s.Kind) + " " + s.URL }

func newServersScreen(sh *shared) *serversScreen {
	s := &serversScreen{base: newBase(sh)}
	s.t.Append(sh.cfg.Sources, sourceHay)
	s.password = newInput(sh, "Password: ", "bind password")
	s.password.EchoMode = textinput.EchoPassword
	s.password.EchoCharacter = '•'
	return s
}

// Title implements screen.
func (s *serversScreen) Title() string {
	if s.pick != "" {
		return "Connect to " + s.pick
	}
	return "Import"
}

// Init implements screen.
func (s *serversScreen) Init() tea.Cmd {
	if s.pick == "" {
		return nil
	}
	for i, src := range s.sh.cfg.Sources {
		if src.Name == s.pick {
			s.t.MoveTo(i)
			return s.choose()
		}
	}
	s.err = fmt.Sprintf("%q is not a configured directory: add it to the configuration file.", s.pick)
	return nil
}

func (s *serversScreen) restyle() { s.password.SetStyles(s.sh.st.input) }

// Typing implements screen.
func (s *serversScreen) Typing() bool { return s.asking }

// SetSize implements screen.
func (s *serversScreen) SetSize(w, h int) {
	s.base.SetSize(w, h)
	s.t.SetHeight(h - 6)
	s.password.SetWidth(max(10, w-14))
}

// Help implements screen.
func (s *serversScreen) Help() helpMap {
	k := s.sh.keys
	if s.asking {
		return helpMap{short: []key.Binding{with(k.Enter, "connect"), with(k.Back, "cancel")}}
	}
	return helpMap{
		short: []key.Binding{k.Up, k.Down, with(k.Enter, "connect"), k.Back},
		full:  [][]key.Binding{k.navKeys(), {with(k.Enter, "connect"), k.Back}},
	}
}

func (s *serversScreen) current() (Source, bool) {
	i, ok := s.t.Current()
	if !ok {
		return Source{}, false
	}
	return *s.t.Item(i), true
}

// Update implements screen.
func (s *serversScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case openedMsg:
		if !s.fresh(msg.tag) {
			msg.release()
			return nil
		}
		s.connecting = false
		src, _ := s.current()
		if msg.err != nil {
			s.err = fmt.Sprintf("Could not connect to %s: %v", src.Name, msg.err)
			return nil
		}
		s.password.SetValue("")
		if s.then != nil {
			return s.replace(s.then(src, msg.dir))
		}
		return s.push(newSearchScreen(s.sh, &importSession{source: src, dir: msg.dir}))

	case tea.PasteMsg:
		if s.asking {
			var cmd tea.Cmd
			s.password, cmd = s.password.Update(msg)
			return cmd
		}
	case mouseMsg:
		if s.asking || s.connecting {
			return nil
		}
		if p := tableMouse(&s.t, msg, 2); p >= 0 {
			return s.choose()
		}
		return nil

	case tea.KeyPressMsg:
		if s.asking {
			switch {
			case key.Matches(msg, k.Back):
				s.asking = false
				s.password.Blur()
				s.password.SetValue("")
				if s.pick != "" {
					return s.back()
				}
				return nil
			case key.Matches(msg, k.Enter):
				s.asking = false
				s.password.Blur()
				return s.connect()
			}
			var cmd tea.Cmd
			s.password, cmd = s.password.Update(msg)
			return cmd
		}
		if s.connecting {
			if key.Matches(msg, k.Back) {
				// Abandon the connection attempt.
				s.renew()
				s.connecting = false
				if s.pick != "" {
					return s.back()
				}
			}
			return nil
		}
		switch {
		case s.t.Navigate(msg, k.Keys):
			s.err = ""
		case key.Matches(msg, k.Enter):
			return s.choose()
		case key.Matches(msg, k.Back):
			return s.back()
		}
	}
	return nil
}

// choose acts on the source under the cursor.
func (s *serversScreen) choose() tea.Cmd {
	src, ok := s.current()
	if !ok {
		return nil
	}
	s.err = ""
	switch {
	case src.Kind == directory.KindEntra && s.sh.cfg.OpenEntra == nil:
		s.err = "This usersync cannot sign in to Entra ID tenants: pick an LDAP server."
		return nil
	case src.Kind == directory.KindEntra:
		si := newSignInScreen(s.sh, src)
		si.then = s.then
		if s.pick != "" {
			// A sync's connection: the sign-in takes the picker's place.
			return s.replace(si)
		}
		return s.push(si)
	case src.Kind != directory.KindLDAP:
		s.err = fmt.Sprintf("%s is a %q directory, which this version cannot import from.", src.Name, src.Kind)
		return nil
	case s.sh.cfg.Open == nil:
		s.err = "No directory connector is configured."
		return nil
	case src.NeedsPassword:
		s.asking = true
		s.password.SetValue("")
		return s.password.Focus()
	}
	return s.connect()
}

// connect opens the source in a command.
func (s *serversScreen) connect() tea.Cmd {
	src, ok := s.current()
	if !ok {
		return nil
	}
	password := s.password.Value()
	s.password.SetValue("")
	s.connecting = true
	tg, ctx := s.renew()
	open := s.sh.cfg.Open
	return func() tea.Msg {
		dir, err := open(ctx, src.Name, password)
		if err == nil && ctx.Err() != nil {
			dir.Close()
			dir, err = nil, ctx.Err()
		}
		return openedMsg{tag: tg, dir: dir, err: err}
	}
}

// View implements screen.
func (s *serversScreen) View() string {
	st := s.sh.st
	w := s.width
	lines := []string{st.heading.Render("Pick a directory to import users and groups from")}
	if len(s.sh.cfg.Sources) == 0 {
		lines = append(lines, "",
			"No directories are configured. Add an [[ldap]] server (or an [[entra]]",
			"tenant) to the configuration file, then open the wizard again.")
		return joinLines(lines)
	}
	lines = append(lines, "")
	from, to := s.t.Visible()
	for p := from; p < to; p++ {
		src := s.t.Item(s.t.At(p))
		kind := "LDAP "
		note := src.URL
		usable := src.Kind == directory.KindLDAP
		if src.Kind == directory.KindEntra {
			kind = "Entra"
			usable = s.sh.cfg.OpenEntra != nil
		}
		if src.NeedsPassword {
			note += " · asks for the bind password"
		}
		text := pad(src.Name, 16) + " " + kind + "  " + note
		if !usable {
			text = st.dim.Render(text)
		}
		lines = append(lines, rowLine(s.sh, p == s.t.Cursor(), text, w))
	}
	lines = append(lines, "")
	switch {
	case s.asking:
		src, _ := s.current()
		lines = append(lines, fmt.Sprintf("Bind password for %s (not stored, not shown):", src.Name), s.password.View())
	case s.connecting:
		src, _ := s.current()
		lines = append(lines, st.dim.Render(fmt.Sprintf("Connecting to %s…", src.Name)))
	case s.err != "":
		lines = append(lines, st.err.Render(glyphWarning+" "+visible.String(s.err)))
	}
	return joinLines(lines)
}

package tui

import (
	"context"
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/tui/visible"
)

// signedInMsg is the outcome of Config.OpenEntra.
type signedInMsg struct {
	tag tag
	dir *entraDir
	err error
}

func (m signedInMsg) target() tag { return m.tag }

// release closes a tenant nobody is waiting for any more (the sign-in was
// cancelled while it finished).
func (m signedInMsg) release() {
	if m.dir != nil {
		m.dir.Close()
	}
}

// signInScreen signs in to an Entra ID tenant. With the device-code flow
// (the default, the one that works over SSH) it shows the verification
// address and the code, and waits for the person to sign in on any device;
// with a client secret or certificate it only waits. Esc cancels the
// sign-in; a failure is shown whole (a missing permission names it and the
// admin-consent address) and Enter tries again.
type signInScreen struct {
	base
	src     Source
	ev      *entraEvents
	spin    spinner.Model
	prompt  *DeviceCode
	signing bool
	waiting context.Context // spans the sign-in: its prompt listener's
	err     string
	// then, when set, makes the screen that takes the sign-in's place
	// with the signed-in tenant, instead of the group chooser (a group
	// sync asks for a connection).
	then func(Source, directory.Directory) screen
}

func newSignInScreen(sh *shared, src Source) *signInScreen {
	s := &signInScreen{base: newBase(sh), src: src}
	s.spin = spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(sh.st.accent))
	return s
}

// Title implements screen.
func (s *signInScreen) Title() string { return "Sign in to " + s.src.Name }

// Init implements screen: start signing in.
func (s *signInScreen) Init() tea.Cmd { return s.start() }

func (s *signInScreen) restyle() { s.spin.Style = s.sh.st.accent }

// start begins a sign-in; a previous one is cancelled.
func (s *signInScreen) start() tea.Cmd {
	open := s.sh.cfg.OpenEntra
	if open == nil {
		s.err = "This usersync cannot sign in to Entra ID tenants."
		return nil
	}
	tg, ctx := s.renew()
	s.signing, s.prompt, s.err = true, nil, ""
	ev := newEntraEvents()
	s.ev = ev
	name, hooks := s.src.Name, ev.hooks()
	// The prompt is listened for while the sign-in lasts.
	waiting, signedIn := context.WithCancel(ctx)
	signIn := func() tea.Msg {
		dir, err := open(ctx, name, hooks)
		signedIn()
		switch {
		case err != nil:
			return signedInMsg{tag: tg, err: err}
		case dir == nil:
			return signedInMsg{tag: tg, err: errors.New("the sign-in returned no directory")}
		case ctx.Err() != nil:
			dir.Close()
			return signedInMsg{tag: tg, err: ctx.Err()}
		}
		return signedInMsg{tag: tg, dir: &entraDir{GroupSource: dir, ev: ev}}
	}
	s.waiting = waiting
	return tea.Batch(signIn, ev.listen(waiting, tg, 0), s.spin.Tick)
}

// Help implements screen.
func (s *signInScreen) Help() helpMap {
	k := s.sh.keys
	if s.signing {
		return helpMap{short: []key.Binding{with(k.Back, "cancel the sign-in")}}
	}
	return helpMap{short: []key.Binding{with(k.Enter, "try again"), k.Back}}
}

// Update implements screen.
func (s *signInScreen) Update(msg tea.Msg) tea.Cmd {
	k := &s.sh.keys
	switch msg := msg.(type) {
	case signedInMsg:
		if !s.fresh(msg.tag) {
			msg.release()
			return nil
		}
		s.signing = false
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		done := status("Signed in to " + s.src.Name + ".")
		if s.then != nil {
			return tea.Batch(done, s.replace(s.then(s.src, msg.dir)))
		}
		sess := &entraSession{source: s.src, dir: msg.dir, req: newEntraRequest(s.src.Name)}
		return tea.Batch(done, s.replace(newEntraGroupsScreen(s.sh, sess)))
	case entraEventMsg:
		if !s.fresh(msg.tag) {
			return nil
		}
		s.prompt = msg.prompt
		return s.ev.listen(s.waiting, msg.tag, msg.version)
	case spinner.TickMsg:
		if !s.signing {
			return nil
		}
		var cmd tea.Cmd
		s.spin, cmd = s.spin.Update(msg)
		return cmd
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Back):
			// Leaving cancels the sign-in (Close cancels its context).
			return s.back()
		case key.Matches(msg, k.Enter) && !s.signing:
			return s.start()
		}
	}
	return nil
}

// View implements screen.
func (s *signInScreen) View() string {
	st := s.sh.st
	w := s.width
	lines := []string{st.heading.Render(cut("Sign in to "+s.src.Name+" (Microsoft Entra ID)", w)), ""}
	add := func(l ...string) { lines = append(lines, l...) }
	wrapped := func(text string, indent int) {
		for _, l := range wrapHard(text, max(10, w-indent)) {
			add(strings.Repeat(" ", indent) + l)
		}
	}
	switch {
	case s.err != "":
		add(st.err.Render(glyphWarning+" Could not sign in to "+s.src.Name+":"), "")
		wrapped(visible.String(s.err), 2)
		add("", st.dim.Render("  Enter tries again · Esc goes back to the directories."))
		return joinLines(lines)
	case s.prompt == nil:
		add("  " + s.spin.View() + "Signing in to " + s.src.Name + "…")
		add("", st.dim.Render("  With a device-code sign-in, an address and a code appear here."))
	default:
		p := s.prompt
		if p.URL == "" || p.Code == "" {
			wrapped(visible.String(p.Message), 2)
		} else {
			add("  On any device, open this address in a web browser:", "")
			// The address is never cut or styled: it must stay copyable.
			add("      "+visible.String(p.URL), "", "  and enter the code:", "")
			box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 2)
			for _, l := range strings.Split(box.Render(st.accent.Render(visible.String(p.Code))), "\n") {
				add("    " + l)
			}
		}
		add("", "  "+s.spin.View()+"Waiting for you to sign in…")
	}
	add("", st.dim.Render(cut("  usersync reads users and groups (User.Read.All, GroupMember.Read.All); it", w)),
		st.dim.Render(cut("  never changes the tenant. Esc cancels the sign-in.", w)))
	return joinLines(lines)
}

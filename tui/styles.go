package tui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
)

// Glyphs tell users from groups and show a row's state at a glance, without
// colour as well as with it.
const (
	glyphUser         = "●"
	glyphUserDisabled = "○" // a user disabled in the directory
	glyphGroup        = "▣"
	glyphCursor       = "›"
	boxOn             = "[x]"
	boxOff            = "[ ]"
	boxBlocked        = "[-]"
	glyphWarning      = "!"

	// The fates of a search result, in the results' gutter.
	glyphImport    = "+" // selecting it imports it
	glyphSync      = "↻" // imported before: selecting it synchronizes it
	glyphBlocked   = "⊘" // the name is taken (an internal user, another source)
	glyphInvalid   = "✗" // it cannot be imported (the action says why)
	glyphUnchecked = "?" // it could not be checked against the store
)

// styles are the shared look of every screen. The root model rebuilds them
// when it learns the terminal's background (light or dark) or its colour
// profile; screens hold a pointer and always read the current ones.
type styles struct {
	dark    bool
	noColor bool

	title     lipgloss.Style // the top bar
	crumb     lipgloss.Style // the breadcrumb in the top bar
	heading   lipgloss.Style // a section heading
	label     lipgloss.Style // field names on cards
	dim       lipgloss.Style // secondary text, blocked rows
	accent    lipgloss.Style // links, the focused thing
	cursorRow lipgloss.Style // the row under the cursor
	selected  lipgloss.Style // a ticked checkbox
	ok        lipgloss.Style
	warn      lipgloss.Style
	err       lipgloss.Style
	tabOn     lipgloss.Style
	tabOff    lipgloss.Style
	button    lipgloss.Style
	buttonOn  lipgloss.Style
	keyHint   lipgloss.Style
	barFull   color.Color
	barEmpty  color.Color
	help      help.Styles
	input     textinput.Styles
}

func newStyles(dark, noColor bool) *styles {
	s := &styles{}
	s.set(dark, noColor)
	return s
}

// set rebuilds the styles in place, so every screen sees the change.
func (s *styles) set(dark, noColor bool) {
	s.dark, s.noColor = dark, noColor
	n := lipgloss.NewStyle
	if noColor {
		// Attributes only: no colour codes at all.
		*s = styles{
			dark: dark, noColor: true,
			title: n().Bold(true).Reverse(true).Padding(0, 1), crumb: n(), heading: n().Bold(true),
			label: n(), dim: n().Faint(true), accent: n().Bold(true),
			cursorRow: n().Reverse(true), selected: n().Bold(true),
			ok: n(), warn: n().Bold(true), err: n().Bold(true),
			tabOn: n().Reverse(true).Bold(true), tabOff: n(),
			button: n(), buttonOn: n().Reverse(true).Bold(true),
			keyHint: n().Bold(true),
			barFull: lipgloss.NoColor{}, barEmpty: lipgloss.NoColor{},
		}
		s.help = help.Styles{
			Ellipsis: n(), ShortKey: n().Bold(true), ShortDesc: n(), ShortSeparator: n(),
			FullKey: n().Bold(true), FullDesc: n(), FullSeparator: n(),
		}
		s.input = textinput.DefaultStyles(dark)
		plain := textinput.StyleState{Text: n(), Placeholder: n().Faint(true), Suggestion: n().Faint(true), Prompt: n()}
		s.input.Focused, s.input.Blurred = plain, plain
		s.input.Cursor.Color = lipgloss.NoColor{}
		s.input.Cursor.Blink = false
		return
	}
	ld := lipgloss.LightDark(dark)
	fg := ld(lipgloss.Color("#1F1F1F"), lipgloss.Color("#E4E4E4"))
	dimC := ld(lipgloss.Color("#8A8A8A"), lipgloss.Color("#7A7A7A"))
	accentC := ld(lipgloss.Color("#5A38C8"), lipgloss.Color("#A78BFA"))
	rowBg := ld(lipgloss.Color("#E6E0FA"), lipgloss.Color("#3B3355"))
	okC := ld(lipgloss.Color("#1B7F3A"), lipgloss.Color("#5FD787"))
	warnC := ld(lipgloss.Color("#9A6700"), lipgloss.Color("#E3B341"))
	errC := ld(lipgloss.Color("#C62828"), lipgloss.Color("#FF6B6B"))
	barBg := ld(lipgloss.Color("#5A38C8"), lipgloss.Color("#7C5CE0"))
	*s = styles{
		dark: dark,
		title: n().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(barBg).
			Padding(0, 1),
		crumb:     n().Foreground(lipgloss.Color("#FFFFFF")).Background(barBg),
		heading:   n().Bold(true).Foreground(accentC),
		label:     n().Foreground(dimC),
		dim:       n().Foreground(dimC),
		accent:    n().Foreground(accentC).Bold(true),
		cursorRow: n().Background(rowBg).Foreground(fg),
		selected:  n().Foreground(accentC).Bold(true),
		ok:        n().Foreground(okC),
		warn:      n().Foreground(warnC),
		err:       n().Foreground(errC).Bold(true),
		tabOn:     n().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(accentC),
		tabOff:    n().Foreground(dimC),
		button:    n().Foreground(accentC),
		buttonOn:  n().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(accentC),
		keyHint:   n().Foreground(accentC),
		barFull:   accentC,
		barEmpty:  dimC,
	}
	s.help = help.DefaultStyles(dark)
	s.input = textinput.DefaultStyles(dark)
	s.input.Cursor.Blink = false
}

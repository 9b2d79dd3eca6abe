package tape

import "testing"

// The sizes below were measured, not derived: xterm.js 5.5.0 with its fit
// and canvas addons (the versions ttyd 1.7.7 ships), ttyd's page CSS, the
// options VHS sets (font "DejaVu Sans Mono", the size and line height
// below), in headless Chromium 156 on Debian 12, in a page of VHS's viewport
// (Width and Height less twice the Padding).
func TestTerminal_MatchesXtermJSInChromium(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		width, height, padding, fontSize int
		lineHeight                       float64
		cols, rows                       int
	}{
		{780, 580, 16, 16, 1.2, 80, 24},
		{840, 520, 16, 16, 1.2, 87, 21},
		{1000, 620, 16, 16, 1.0, 104, 30},
		{1000, 700, 20, 18, 1.0, 93, 30},
		{1200, 600, 60, 22, 1.0, 81, 18}, // VHS's defaults
		{1200, 800, 40, 14, 1.0, 136, 44},
		{1400, 800, 20, 13, 1.3, 190, 39},
		{800, 500, 10, 12, 1.5, 107, 22},
		{1100, 720, 24, 20, 1.1, 85, 25},
	} {
		s, err := SettingsOf(nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Width, s.Height, s.Padding, s.FontSize, s.LineHeight = tc.width, tc.height, tc.padding, tc.fontSize, tc.lineHeight
		s.FontFamily = "DejaVu Sans Mono"
		cols, rows, err := s.Terminal()
		if err != nil {
			t.Fatal(err)
		}
		if cols != tc.cols || rows != tc.rows {
			t.Errorf("%dx%d, padding %d, font %d, line height %g: %dx%d cells, xterm.js makes %dx%d",
				tc.width, tc.height, tc.padding, tc.fontSize, tc.lineHeight, cols, rows, tc.cols, tc.rows)
		}
	}
}

func TestTerminal_RefusesAFontItDoesNotKnow(t *testing.T) {
	t.Parallel()
	s, _ := SettingsOf(nil)
	s.FontFamily = "JetBrains Mono"
	if _, _, err := s.Terminal(); err == nil {
		t.Error("Terminal guessed the size for JetBrains Mono")
	}
}

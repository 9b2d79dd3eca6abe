package tui

// wrapHard breaks s into lines of at most w cells, without losing a
// character (a command line must stay copyable).
func wrapHard(s string, w int) []string {
	if w < 1 {
		return []string{s}
	}
	var out []string
	r := []rune(s)
	for len(r) > w {
		cutAt := w
		// Prefer breaking after a space.
		for i := w; i > w/2; i-- {
			if r[i-1] == ' ' {
				cutAt = i
				break
			}
		}
		out = append(out, string(r[:cutAt]))
		r = r[cutAt:]
	}
	return append(out, string(r))
}

package main

import (
	"strings"
	"testing"
)

func TestTUI_UsersAppOpensAndQuitsCleanly(t *testing.T) {
	e := newEnv(t)
	e.ok("users", "add", "aandrei", "--name", "Andrei Aa")
	m := startTerminal(t, e, 80, 24)
	s := m.waitFor("aandrei", "Andrei Aa")
	if lines := strings.Split(strings.TrimRight(s, "\n"), "\n"); len(lines) > 24 {
		t.Fatalf("the Users app drew %d lines in a 24-line terminal", len(lines))
	}
	m.keys("q")
	if code := m.waitExit(); code != 0 {
		t.Fatalf("q: exit status %d\n%s", code, m.screen())
	}
}

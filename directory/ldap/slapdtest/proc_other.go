//go:build !linux

package slapdtest

import (
	"os"
	"os/exec"
)

var terminate = os.Interrupt

// setParentDeathSignal is Linux-only; elsewhere slapd outlives a test
// binary that dies without running its cleanups.
func setParentDeathSignal(*exec.Cmd) {}

// settled cannot see a process's state outside Linux; Pause and Resume
// return once the signal is sent.
func settled(int, bool) error { return nil }

//go:build unix

package slapdtest

import "syscall"

// Signals that freeze and thaw a process, for Pause and Resume.
var (
	pauseSignal  = syscall.SIGSTOP
	resumeSignal = syscall.SIGCONT
)

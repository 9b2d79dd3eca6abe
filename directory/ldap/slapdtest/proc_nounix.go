//go:build !unix

package slapdtest

import "os"

// Signals that freeze and thaw a process: there are none outside Unix,
// where Pause and Resume fail.
var (
	pauseSignal  os.Signal
	resumeSignal os.Signal
)

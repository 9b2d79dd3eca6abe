package slapdtest

import (
	"os/exec"
	"syscall"
)

var terminate = syscall.SIGTERM

// setParentDeathSignal has the kernel kill slapd when the test binary
// dies without running its cleanups (a panic, a timeout, SIGKILL).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

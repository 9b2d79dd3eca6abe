package slapdtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

var terminate = syscall.SIGTERM

// setParentDeathSignal has the kernel kill slapd when the test binary
// dies without running its cleanups (a panic, a timeout, SIGKILL).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// settled waits until every thread of process pid is stopped (stopped
// true) or none is (false). A signal is delivered asynchronously: kill(2)
// returns before SIGSTOP has frozen slapd's threads, and a server that
// still answers for a few milliseconds after Pause makes a stall test lie.
func settled(pid int, stopped bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := allThreads(pid, stopped)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slapd (pid %d) did not %s within 5s", pid, map[bool]string{true: "stop", false: "continue"}[stopped])
		}
		time.Sleep(time.Millisecond)
	}
}

// allThreads reports whether every thread of pid is in the stopped state
// ('T' in /proc/PID/task/TID/stat), or, with stopped false, none is.
func allThreads(pid int, stopped bool) (bool, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue // a thread that just ended
		}
		// pid (comm) S ...: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return false, fmt.Errorf("unexpected /proc stat line %q", b)
		}
		if (b[i+2] == 'T') != stopped {
			return false, nil
		}
	}
	return true, nil
}

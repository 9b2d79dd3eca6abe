package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServe_FlagsAndBadKeysFile(t *testing.T) {
	e := newEnv(t)
	e.writeConfig("")
	if r := e.run("serve"); r.code != exitUsage || !strings.Contains(r.stderr, "--authorized-keys") {
		t.Errorf("serve without --authorized-keys: exit %d stderr %q", r.code, r.stderr)
	}
	keys := filepath.Join(e.dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte("# ours\nnot a key at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.run("serve", "--listen", "127.0.0.1:0", "--authorized-keys", keys)
	if r.code != exitFailure || !strings.Contains(r.stderr, keys+":2:") {
		t.Errorf("bad authorized_keys: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestServe_ListensUntilInterrupted(t *testing.T) {
	e := newEnv(t)
	keys := filepath.Join(e.dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmuWnT/XjHpXHkGQNiUUUTF7Jcq1jpuhO9Jt8WD4nhp alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(e.dir, "host_key")
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--host-key", hostKey, "--authorized-keys", keys)
	cmd.Env = append(os.Environ(), "USERSYNC_STORE="+e.store, "XDG_CONFIG_HOME="+filepath.Join(e.dir, "xdg-config"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	listening := false
	for lines.Scan() {
		if strings.Contains(lines.Text(), "usersync serve: listening on 127.0.0.1:") {
			listening = true
			break
		}
	}
	if !listening {
		t.Fatal("serve did not say where it listens")
	}
	go func() {
		for lines.Scan() {
		}
	}()
	if fi, err := os.Stat(hostKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key: %v %v", fi, err)
	}
	// The store is held by the server: another process is told so.
	if r := e.run("users", "list"); r.code != exitFailure || !strings.Contains(r.stderr, "in use") {
		t.Errorf("users list while serving: exit %d stderr %q", r.code, r.stderr)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after Ctrl+C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on Ctrl+C")
	}
}

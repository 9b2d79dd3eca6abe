//go:build !linux

package sambatest

import (
	"errors"
	"net"
	"os"
	"os/exec"
)

var terminate = os.Kill

var errNoNetns = errors.New("running a Samba AD DC in tests needs Linux (a network namespace of its own)")

type netns struct{}

func netnsAvailable() error                  { return errNoNetns }
func newNetns() (*netns, error)              { return nil, errNoNetns }
func (*netns) start(*exec.Cmd) error         { return errNoNetns }
func (*netns) dial(string) (net.Conn, error) { return nil, errNoNetns }
func (*netns) close()                        {}

package sambatest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

var terminate = syscall.SIGTERM

// netns is a network namespace of its own for one DC, with its loopback
// up. A namespace belongs to an OS thread: the thread that made it stays
// locked, parked, for the DC's life (samba's parent-death signal is tied
// to it), and ends with close.
type netns struct {
	fd   int // /proc/thread-self/ns/net of the namespace's thread
	reqs chan func()
	done chan struct{}
}

// netnsAvailable says why a namespace cannot be made here, or nil.
func netnsAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("running a Samba AD DC needs root (a network namespace of its own, LDAP on ports 389 and 636): run the tests as root")
	}
	ns, err := newNetns()
	if err != nil {
		return err
	}
	ns.close()
	return nil
}

func newNetns() (*netns, error) {
	ns := &netns{reqs: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, taking the
		// namespace with it.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("a network namespace for samba: unshare: %w", err)
			return
		}
		if err := loopbackUp(); err != nil {
			ready <- fmt.Errorf("a network namespace for samba: %w", err)
			return
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ready <- fmt.Errorf("a network namespace for samba: %w", err)
			return
		}
		ns.fd = fd
		ready <- nil
		for {
			select {
			case f := <-ns.reqs:
				f()
			case <-ns.done:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return ns, nil
}

// loopbackUp brings up lo in the calling thread's namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// start starts cmd from the namespace's thread: it runs in the namespace,
// and is killed if the thread (the test binary) dies.
func (ns *netns) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	ns.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// dial connects to addr inside the namespace. The socket is made on a
// thread that enters the namespace for it and never leaves: the thread
// ends with the goroutine.
func (ns *netns) dial(addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			res <- result{err: fmt.Errorf("enter samba's network namespace: %w", err)}
			return
		}
		c, err := net.Dial("tcp", addr)
		res <- result{c, err}
	}()
	r := <-res
	return r.c, r.err
}

func (ns *netns) close() {
	close(ns.done)
	_ = unix.Close(ns.fd)
}

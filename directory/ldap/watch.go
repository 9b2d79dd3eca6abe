package ldap

import (
	"fmt"
	"net"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// A server can stop answering without closing the connection: a hung
// slapd, a domain controller paused by its hypervisor, a firewall that
// drops packets. go-ldap then waits forever, and its own per-request
// timeout (Conn.SetTimeout) does not fit a streamed search: it bounds a
// request's total time, so it would cut a large search that is still
// streaming, and it also bounds each hand-off of a response to the
// caller, so a slow consumer loses entries silently.
//
// So the timeout is an inactivity deadline, kept under go-ldap (and under
// TLS): watchConn notes whenever the connection makes progress, and a
// watchdog closes it when somebody has been waiting for the server's
// answer for the timeout while the connection sat in Read with nothing
// arriving. Time the caller spends on the entries it got (fn, a store
// write) never counts: nobody waits for the server then. Closing the
// connection ends every go-ldap call on it with an error; the session is
// marked stalled so that callers can say why, and the next call
// reconnects.

// watchConn is the network connection under go-ldap and TLS, watched for
// silence. Operations bracket every wait for the server's answer with
// begin and end.
type watchConn struct {
	net.Conn
	timeout time.Duration

	mu sync.Mutex
	// waiting counts the operations waiting for the server's answer.
	waiting int
	// reading is true while a Read is blocked on the network.
	reading bool
	// quiet is when the connection last made progress: a Read started or
	// returned bytes, or an operation started waiting.
	quiet time.Time
	// timer is the watchdog; armed while an operation waits. It is
	// re-armed lazily when it fires early, never on each byte.
	timer   *time.Timer
	armed   bool
	stalled bool
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

func newWatchConn(c net.Conn, timeout time.Duration) *watchConn {
	return &watchConn{Conn: c, timeout: timeout, quiet: time.Now()}
}

// Read is the underlying Read, noting when it waits and when bytes
// arrive.
func (c *watchConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.reading = true
	c.quiet = time.Now()
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.reading = false
	if n > 0 {
		c.quiet = time.Now()
	}
	c.mu.Unlock()
	return n, err
}

// begin notes that an operation now waits for the server's answer.
func (c *watchConn) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting == 0 {
		c.quiet = time.Now()
	}
	c.waiting++
	if c.armed || c.closed {
		return
	}
	c.armed = true
	if c.timer == nil {
		c.timer = time.AfterFunc(c.timeout, c.check)
	} else {
		c.timer.Reset(c.timeout)
	}
}

// end notes that an operation no longer waits. The watchdog stays armed
// and disarms itself when it finds nobody waiting.
func (c *watchConn) end() {
	c.mu.Lock()
	c.waiting--
	c.mu.Unlock()
}

// check is the watchdog: it closes the connection when an operation has
// been waiting and the connection has sat in Read without a byte for the
// timeout; otherwise it looks again when that could first be true.
func (c *watchConn) check() {
	c.mu.Lock()
	if c.waiting <= 0 || c.closed {
		c.armed = false
		c.mu.Unlock()
		return
	}
	silent := time.Since(c.quiet)
	if !c.reading || silent < c.timeout {
		// Not waiting on the network (go-ldap is busy handing over what
		// arrived), or not for long enough yet.
		next := c.timeout
		if c.reading {
			next = c.timeout - silent
		}
		c.timer.Reset(next)
		c.mu.Unlock()
		return
	}
	c.stalled, c.armed = true, false
	c.mu.Unlock()
	_ = c.Close()
}

// isStalled reports whether the watchdog gave up on the connection.
func (c *watchConn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}

// Close closes the connection once; later calls return the first result.
func (c *watchConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
		}
		c.armed, c.closed = false, true
		c.mu.Unlock()
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// session is one connection to the server: go-ldap's client over a
// watched network connection.
type session struct {
	*goldap.Conn
	watch *watchConn
	// bulk are the session's bulk-search connections (see bulkConn).
	bulk bulkPool
}

// next is resp.Next, watched: it gives up when the server sends nothing
// for the timeout.
func (s *session) next(resp goldap.Response) bool {
	s.watch.begin()
	ok := resp.Next()
	s.watch.end()
	return ok
}

// waitFor runs a go-ldap call that waits for the server's answer (a bind,
// StartTLS), watched.
func (s *session) waitFor(call func() error) error {
	s.watch.begin()
	defer s.watch.end()
	return call()
}

// stalled reports whether the session was given up because the server
// stopped answering, on its own connection or a bulk one.
func (s *session) stalled() bool { return s.watch.isStalled() || s.bulk.stalled.Load() }

// lost reports whether the session can no longer be used: closed, lost or
// stalled, or a bulk connection was lost.
func (s *session) lost() bool { return s.IsClosing() || s.stalled() || s.bulk.lost.Load() }

// Close ends the session. go-ldap's Close waits for its goroutines, one of
// which may be stuck writing to a server that stopped reading: after the
// timeout the network connection is closed under it.
func (s *session) Close() error {
	s.bulk.close()
	guard := time.AfterFunc(s.watch.timeout, func() { _ = s.watch.Close() })
	defer guard.Stop()
	err := s.Conn.Close()
	_ = s.watch.Close()
	return err
}

// noAnswerError is an operation given up because the server sent nothing
// for the timeout while it was waited for.
type noAnswerError struct {
	server  string
	timeout time.Duration
	// after says how far the operation got ("after 300 entries"), or is
	// empty.
	after string
}

func (e *noAnswerError) Error() string {
	after := ""
	if e.after != "" {
		after = " " + e.after
	}
	return fmt.Sprintf("%s did not answer for %s (timeout)%s — check that the server is running and not overloaded, and the network to it; or raise timeout in its configuration",
		e.server, e.timeout, after)
}

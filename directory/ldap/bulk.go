package ldap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Bulk searches — every paged search: Search, the group and member
// searches of ReadGroup, LookupUsers — run on a connection of their own,
// read by the small client in this file instead of go-ldap. go-ldap
// decodes every message into a tree of packets (for a 600-byte entry about
// 300 allocations and 16 KB of garbage, which also keeps the garbage
// collector busy beside the store's writer); bulkConn reads each message
// into one reused buffer and decodes the entry in place (entryView), so
// that reading 100k entries allocates little more than the strings the
// flavor keeps.
//
// go-ldap reads its responses in a goroutine of its own, from a buffered
// reader over the connection, and hands out only decoded packets: there is
// no way to take the raw messages, so the bulk client cannot share its
// connection. It dials its own with the same connector — the same TLS
// configuration and verification, the same refusal of a simple bind in
// clear, the same watchdog (watchConn) — and speaks just enough LDAP for a
// search: StartTLS, a simple bind, a search with the paged-results
// control, abandon and unbind. go-ldap keeps the session's own connection
// for everything else: opening, the root DSE, base-object reads (ranged
// member values, primaryGroupToken), Test.

// bulkConn is one bulk-search connection. It runs one operation at a time,
// in the caller's goroutine.
type bulkConn struct {
	c     *connector
	watch *watchConn
	conn  net.Conn // watch, or the TLS connection over it
	rd    msgReader
	// lastID is the last message ID used.
	lastID int64
	// view is the entry being handed to the caller, reused.
	view entryView
	// broken is set once the connection cannot be used again: lost,
	// stalled, interrupted, or the server's messages made no sense.
	broken bool
	// interrupted is set when the connection was closed because the
	// caller's context ended or its session was closed.
	interrupted bool
	// closing is set when the session is closed while the connection is
	// in use: no entry is delivered after it.
	closing atomic.Bool
}

// openBulk dials a bulk-search connection, then secures and binds it as
// configured, with the steps and messages of the session's own.
func (c *connector) openBulk(ctx context.Context) (*bulkConn, error) {
	raw, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	b := &bulkConn{c: c, watch: raw, conn: raw, rd: msgReader{r: raw, watch: raw}}
	ok := false
	defer func() {
		if !ok {
			_ = raw.Close()
		}
	}()
	switch {
	case c.scheme == "ldaps":
		tc, err := c.handshake(ctx, raw, "TLS")
		if err != nil {
			return nil, err
		}
		b.conn, b.rd.r = tc, tc
	case c.cfg.StartTLS:
		if err := b.startTLS(ctx); err != nil {
			return nil, err
		}
	}
	closeRaw := func() { _ = raw.Close() }
	if _, err := c.bindWith(ctx, c.encrypted(), b.bind, closeRaw, raw.isStalled); err != nil {
		return nil, err
	}
	ok = true
	return b, nil
}

// startTLS runs the StartTLS extended operation, then the TLS handshake.
func (b *bulkConn) startTLS(ctx context.Context) error {
	c := b.c
	stop := context.AfterFunc(ctx, func() { _ = b.watch.Close() })
	id := b.nextID()
	err := b.call(startTLSRequest(id), id, opExtendedResp)
	stop()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("StartTLS with %s: %w", c.hostport, ctx.Err())
	case b.watch.isStalled():
		return fmt.Errorf("StartTLS with %s: %w", c.hostport, c.noAnswer(""))
	case err != nil:
		return c.tlsError(err)
	case b.rd.buffered():
		return c.tlsError(errors.New("the server sent more than its answer to StartTLS"))
	}
	tc, err := c.handshake(ctx, b.watch, "StartTLS")
	if err != nil {
		return err
	}
	b.conn, b.rd.r = tc, tc
	return nil
}

// bind is a simple bind as dn (see connector.bindWith).
func (b *bulkConn) bind(dn, password string) error {
	id := b.nextID()
	return b.call(bindRequest(id, dn, password), id, opBindResponse)
}

func (b *bulkConn) nextID() int64 {
	if b.lastID >= 1<<31-1 {
		b.lastID = 0
	}
	b.lastID++
	return b.lastID
}

// call sends a request and reads its answer, which must be operation op
// carrying an LDAPResult: nil for a success, else the result as go-ldap
// reports it.
func (b *bulkConn) call(req []byte, id int64, op uint32) error {
	if err := b.send(req); err != nil {
		return err
	}
	m, err := b.read(id)
	if err != nil {
		return err
	}
	if !m.op.is(classApplication, true, op) {
		return b.malformed(fmt.Errorf("operation %d in answer to a request for operation %d", m.op.tag, op))
	}
	r, err := parseResult(m.op.content)
	if err != nil {
		return b.malformed(err)
	}
	return r.err()
}

// send writes one request. A server that takes none of it for the timeout
// is given up: the connection is broken.
func (b *bulkConn) send(msg []byte) error {
	_ = b.watch.SetWriteDeadline(time.Now().Add(b.c.timeout))
	_, err := b.conn.Write(msg)
	_ = b.watch.SetWriteDeadline(time.Time{})
	if err != nil {
		b.broken = true
		return goldap.NewError(goldap.ErrorNetwork, fmt.Errorf("unable to send the request: %w", err))
	}
	return nil
}

// read returns the next message answering operation id, skipping those
// answering others (the last entries of an abandoned search). Waits for
// the server are watched (msgReader tells the watchdog).
func (b *bulkConn) read(id int64) (message, error) {
	for {
		raw, err := b.rd.next()
		if err != nil {
			if errors.Is(err, errMalformed) {
				return message{}, b.malformed(err)
			}
			b.broken = true
			return message{}, goldap.NewError(goldap.ErrorNetwork, fmt.Errorf("unable to read LDAP response: %w", err))
		}
		m, err := parseMessage(raw)
		switch {
		case err != nil:
			return m, b.malformed(err)
		case m.id == id:
			return m, nil
		case m.id == 0 && m.op.is(classApplication, true, opExtendedResp):
			// An unsolicited notification: the server is about to close
			// the connection (RFC 4511 section 4.4.1).
			b.broken = true
			r, _ := parseResult(m.op.content)
			return m, goldap.NewError(goldap.ErrorNetwork, fmt.Errorf("the server ended the connection (result code %d): %s", r.code, r.diag))
		}
	}
}

// malformed gives up the connection after a message that is not LDAP.
func (b *bulkConn) malformed(err error) error {
	b.broken = true
	return goldap.NewError(goldap.ErrorMalformedPacket, fmt.Errorf("the server sent a malformed message: %w", err))
}

// search runs req and hands fn every entry as it arrives (a view valid
// only during the call), page after page of pageSize entries when pageSize
// is positive, and ref every referral. It returns the number of entries fn
// was given. A result other than success is go-ldap's *ldap.Error. An
// error from fn is returned as it is, after abandoning the search; the
// connection stays usable. Once ctx ends fn is not called again, and a
// wait for the server is cut by closing the connection.
func (b *bulkConn) search(ctx context.Context, req searchReq, pageSize int, fn func(*entryView) error, ref func(string)) (n int, err error) {
	filter, err := goldap.CompileFilter(req.filter)
	if err != nil {
		return 0, err
	}
	fb := filter.Bytes()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { _ = b.watch.Close() })
	defer func() {
		if !stop() {
			b.broken, b.interrupted = true, true
		}
	}()
	var cookie []byte
	for {
		id := b.nextID()
		if err := b.send(searchRequest(id, req, fb, pageSize, cookie)); err != nil {
			return n, err
		}
		for page := true; page; {
			m, err := b.read(id)
			if err != nil {
				if stop := b.stopped(ctx); stop != nil {
					return n, stop
				}
				return n, err
			}
			switch {
			case m.op.is(classApplication, true, opSearchEntry):
				if err := b.stopped(ctx); err != nil {
					b.abandon(id)
					return n, err
				}
				if err := b.view.decode(m.op.content); err != nil {
					return n, b.malformed(err)
				}
				n++
				if err := fn(&b.view); err != nil {
					b.abandon(id)
					return n, err
				}
			case m.op.is(classApplication, true, opSearchReference):
				uri, err := firstReference(m.op.content)
				if err != nil {
					return n, b.malformed(err)
				}
				ref(uri)
			case m.op.is(classApplication, true, opSearchDone):
				r, err := parseResult(m.op.content)
				if err != nil {
					return n, b.malformed(err)
				}
				if err := r.err(); err != nil {
					return n, err
				}
				c, found, err := pagingCookie(m.controls)
				if err != nil {
					return n, b.malformed(err)
				}
				if pageSize <= 0 || !found || len(c) == 0 {
					return n, nil
				}
				cookie = append(cookie[:0], c...)
				page = false
			default:
				return n, b.malformed(fmt.Errorf("operation %d in answer to a search", m.op.tag))
			}
		}
	}
}

// errSessionClosed ends a search whose session was closed under it.
var errSessionClosed = goldap.NewError(goldap.ErrorNetwork, errors.New("ldap: connection closed"))

// stopped is the reason to deliver nothing more: ctx ended, or the session
// was closed.
func (b *bulkConn) stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closing.Load() {
		b.broken, b.interrupted = true, true
		return errSessionClosed
	}
	return nil
}

// abandon asks the server to stop search id; what it sent meanwhile is
// skipped by the next read.
func (b *bulkConn) abandon(id int64) {
	if !b.broken {
		_ = b.send(abandonRequest(b.nextID(), id))
	}
}

// close unbinds, when the connection is still usable, and closes it.
func (b *bulkConn) close() {
	if !b.broken {
		_ = b.send(unbindRequest(b.nextID()))
	}
	_ = b.conn.Close()
	_ = b.watch.Close()
}

// bulkPool is a session's bulk-search connections: one kept idle between
// searches; a search that finds none (the first, or one running beside
// another) opens one.
type bulkPool struct {
	mu     sync.Mutex
	idle   *bulkConn
	busy   map[*bulkConn]bool
	closed bool
	// lost is set when a bulk connection was lost or could not be opened,
	// stalled when the server left one unanswered for the timeout: either
	// gives up the whole session (session.lost, session.stalled), as the
	// loss of its own connection would.
	lost, stalled atomic.Bool
}

// bulkOpenError is a bulk connection that could not be opened.
type bulkOpenError struct{ err error }

func (e *bulkOpenError) Error() string { return e.err.Error() }
func (e *bulkOpenError) Unwrap() error { return e.err }

// search runs req on a connection of the pool's (see bulkConn.search),
// and reports whether the server left it unanswered for the timeout. A
// failure to open one is a *bulkOpenError. A kept connection the server
// closed while it sat idle (an idle timeout, a notice of disconnection) is
// replaced once, when the search had read nothing from it.
func (p *bulkPool) search(ctx context.Context, c *connector, req searchReq, pageSize int, fn func(*entryView) error, ref func(string)) (n int, stalled bool, err error) {
	for retried := false; ; retried = true {
		b, reused, err := p.take(ctx, c)
		if err != nil {
			return 0, false, err
		}
		refs := 0
		n, err = b.search(ctx, req, pageSize, fn, func(uri string) { refs++; ref(uri) })
		stalled = b.watch.isStalled()
		if reused && !retried && n == 0 && refs == 0 && b.broken && !b.interrupted && !stalled &&
			goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
			p.drop(b)
			continue
		}
		p.put(b)
		return n, stalled, err
	}
}

// take returns the idle bulk connection (reused), or opens one.
func (p *bulkPool) take(ctx context.Context, c *connector) (b *bulkConn, reused bool, err error) {
	p.mu.Lock()
	b, p.idle = p.idle, nil
	p.mu.Unlock()
	reused = b != nil
	if b == nil {
		if b, err = c.openBulk(ctx); err != nil {
			if ctx.Err() == nil {
				p.lost.Store(true)
				if errors.As(err, new(*noAnswerError)) {
					p.stalled.Store(true)
				}
			}
			return nil, false, &bulkOpenError{err}
		}
	}
	p.mu.Lock()
	closed := p.closed
	if !closed {
		if p.busy == nil {
			p.busy = map[*bulkConn]bool{}
		}
		p.busy[b] = true
	}
	p.mu.Unlock()
	if closed {
		b.close()
		return nil, false, errSessionClosed
	}
	return b, reused, nil
}

// drop closes a connection take returned, without counting it lost.
func (p *bulkPool) drop(b *bulkConn) {
	p.mu.Lock()
	delete(p.busy, b)
	p.mu.Unlock()
	b.close()
}

// put gives back a connection take returned: kept for the next search when
// still usable, else closed and, unless the caller's context ended it,
// noted as lost.
func (p *bulkPool) put(b *bulkConn) {
	p.mu.Lock()
	delete(p.busy, b)
	p.mu.Unlock()
	if b.broken {
		if !b.interrupted {
			p.lost.Store(true)
			if b.watch.isStalled() {
				p.stalled.Store(true)
			}
		}
		b.close()
		return
	}
	p.mu.Lock()
	keep := p.idle == nil && !p.closed
	if keep {
		p.idle = b
	}
	p.mu.Unlock()
	if !keep {
		b.close()
	}
}

// close closes the idle connection, and those in use under the searches
// using them: they deliver nothing more.
func (p *bulkPool) close() {
	p.mu.Lock()
	b := p.idle
	p.idle, p.closed = nil, true
	for busy := range p.busy {
		busy.closing.Store(true)
		_ = busy.watch.Close()
	}
	p.mu.Unlock()
	if b != nil {
		b.close()
	}
}

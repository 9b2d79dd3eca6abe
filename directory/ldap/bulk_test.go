package ldap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// The bulk connection against a scripted server: the protocol's corners
// that slapd does not show on demand. slapd itself is read in the
// package's other tests (search_test.go, group_test.go, stall_test.go).

// fakeServer answers each request on its connections with handle, which
// writes whatever it likes.
type fakeServer struct {
	addr string
	mu   sync.Mutex
	// requests are the requests received, in order.
	requests []*ber.Packet
}

func startFake(t *testing.T, handle func(c net.Conn, req *ber.Packet)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					req, err := ber.ReadPacket(c)
					if err != nil {
						return
					}
					s.mu.Lock()
					s.requests = append(s.requests, req)
					s.mu.Unlock()
					handle(c, req)
				}
			}()
		}
	}()
	return s
}

// received are the requests received so far.
func (s *fakeServer) received() []*ber.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// seen are the operations of the requests received so far.
func (s *fakeServer) seen() []ber.Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []ber.Tag
	for _, r := range s.requests {
		ops = append(ops, r.Children[1].Tag)
	}
	return ops
}

// dialFake opens a bulk connection to s, anonymous and in clear.
func dialFake(t *testing.T, s *fakeServer, timeout time.Duration) *bulkConn {
	t.Helper()
	c, err := newConnector(Config{Name: "fake", URL: "ldap://" + s.addr, Timeout: Duration{timeout}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.openBulk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	return b
}

// requestID and requestCookie read a search request.
func requestID(req *ber.Packet) int64 { return req.Children[0].Value.(int64) }

func requestCookie(req *ber.Packet) string {
	if len(req.Children) < 3 {
		return "<none>"
	}
	ctl, err := goldap.DecodeControl(req.Children[2].Children[0])
	if err != nil {
		return "<bad>"
	}
	return string(ctl.(*goldap.ControlPaging).Cookie)
}

var everyone = searchReq{base: "dc=x", scope: goldap.ScopeWholeSubtree, filter: "(uid=*)", attrs: []string{"uid"}}

// collect runs a search on b, returning the uids and referrals seen.
func collect(b *bulkConn, pageSize int) (uids, refs []string, err error) {
	_, err = b.search(context.Background(), everyone, pageSize, func(v *entryView) error {
		uids = append(uids, string(v.first("uid")))
		return nil
	}, func(ref string) { refs = append(refs, ref) })
	return uids, refs, err
}

func user(id int64, uid string) []byte {
	return entryMessage(id, "uid="+uid+",dc=x", attr{"uid", []string{uid}})
}

func TestBulkSearch_PagesReferralsAndCookies(t *testing.T) {
	s := startFake(t, func(c net.Conn, req *ber.Packet) {
		if req.Children[1].Tag != opSearchRequest {
			return
		}
		id := requestID(req)
		switch requestCookie(req) {
		case "":
			c.Write(user(id, "a"))
			c.Write(referenceMessage(id, "ldap://other/dc=y", "ldap://mirror/dc=y"))
			c.Write(user(id, "b"))
			c.Write(doneMessage(id, 0, "", nil, []byte("page-2")))
		case "page-2":
			c.Write(user(id, "c"))
			c.Write(doneMessage(id, 0, "", nil, []byte{}))
		}
	})
	b := dialFake(t, s, 5*time.Second)
	uids, refs, err := collect(b, 2)
	if err != nil || !slices.Equal(uids, []string{"a", "b", "c"}) || !slices.Equal(refs, []string{"ldap://other/dc=y"}) {
		t.Errorf("search = %v, %v, %v", uids, refs, err)
	}
	var cookies []string
	for _, req := range s.received() {
		cookies = append(cookies, requestCookie(req))
	}
	if !slices.Equal(cookies, []string{"", "page-2"}) {
		t.Errorf("cookies sent = %q", cookies)
	}
	if b.broken {
		t.Error("the connection is broken after a complete search")
	}
}

// A search whose caller stops is abandoned; what the server sent for it
// meanwhile is skipped by the next search on the same connection.
func TestBulkSearch_AbandonedSearchIsSkipped(t *testing.T) {
	s := startFake(t, func(c net.Conn, req *ber.Packet) {
		if req.Children[1].Tag != opSearchRequest {
			return
		}
		id := requestID(req)
		if id == 1 {
			for _, uid := range []string{"old1", "old2", "old3"} {
				c.Write(user(id, uid))
			}
			c.Write(doneMessage(id, 0, "", nil, nil))
			return
		}
		c.Write(user(id, "new"))
		c.Write(doneMessage(id, 0, "", nil, nil))
	})
	b := dialFake(t, s, 5*time.Second)
	stop := errors.New("enough")
	_, err := b.search(context.Background(), everyone, 0, func(*entryView) error { return stop }, func(string) {})
	if !errors.Is(err, stop) || b.broken {
		t.Fatalf("err = %v, broken %v; want the caller's error on a usable connection", err, b.broken)
	}
	uids, _, err := collect(b, 0)
	if err != nil || !slices.Equal(uids, []string{"new"}) {
		t.Errorf("the next search = %v, %v; want only its own entry", uids, err)
	}
	if got := s.seen(); !slices.Equal(got, []ber.Tag{opSearchRequest, opAbandonRequest, opSearchRequest}) {
		t.Errorf("the server saw %v", got)
	}
	if abandon := s.received()[1].Children[1]; abandon.Data.Len() != 1 || abandon.Data.Bytes()[0] != 1 {
		t.Errorf("abandon of %x, want of 1", abandon.Data.Bytes())
	}
}

func TestBulkSearch_ResultCodesAreGoLDAPErrors(t *testing.T) {
	s := startFake(t, func(c net.Conn, req *ber.Packet) {
		if req.Children[1].Tag != opSearchRequest {
			return
		}
		id := requestID(req)
		c.Write(user(id, "a"))
		c.Write(doneMessage(id, goldap.LDAPResultSizeLimitExceeded, "size limit exceeded", nil, nil))
	})
	b := dialFake(t, s, 5*time.Second)
	uids, _, err := collect(b, 100)
	var le *goldap.Error
	if !errors.As(err, &le) || le.ResultCode != goldap.LDAPResultSizeLimitExceeded || le.Err.Error() != "size limit exceeded" || len(uids) != 1 {
		t.Errorf("search = %v, %v; want the entry, then size limit exceeded", uids, err)
	}
	if b.broken {
		t.Error("a result code broke the connection")
	}
}

func TestBulkSearch_WhatEndsTheConnection(t *testing.T) {
	notice := func(c net.Conn) {
		msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		msg.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""))
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, opExtendedResp, nil, "")
		op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 52, ""))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "shutting down", ""))
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, "1.3.6.1.4.1.1466.20036", ""))
		msg.AppendChild(op)
		c.Write(msg.Bytes())
	}
	tests := []struct {
		name string
		then func(c net.Conn, id int64)
		code uint16
		want string
	}{
		{"notice of disconnection", func(c net.Conn, _ int64) { notice(c) }, goldap.ErrorNetwork, "shutting down"},
		{"closed mid-message", func(c net.Conn, id int64) { c.Write(user(id, "b")[:10]); c.Close() }, goldap.ErrorNetwork, "unexpected EOF"},
		{"closed", func(c net.Conn, _ int64) { c.Close() }, goldap.ErrorNetwork, "EOF"},
		{"not LDAP", func(c net.Conn, _ int64) { c.Write([]byte("HTTP/1.1 400 Bad Request\r\n")) }, goldap.ErrorMalformedPacket, "malformed"},
		{"malformed entry", func(c net.Conn, id int64) {
			c.Write([]byte{0x30, 0x07, 0x02, 0x01, byte(id), 0x64, 0x02, 0x04, 0x05})
		}, goldap.ErrorMalformedPacket, "truncated"},
		{"oversize", func(c net.Conn, _ int64) { c.Write([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02}) }, goldap.ErrorMalformedPacket, "too large"},
		{"another operation", func(c net.Conn, id int64) {
			c.Write([]byte{0x30, 0x0c, 0x02, 0x01, byte(id), 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00})
		}, goldap.ErrorMalformedPacket, "operation 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, func(c net.Conn, req *ber.Packet) {
				if req.Children[1].Tag == opSearchRequest {
					c.Write(user(requestID(req), "a"))
					tt.then(c, requestID(req))
				}
			})
			b := dialFake(t, s, 5*time.Second)
			uids, _, err := collect(b, 0)
			var le *goldap.Error
			if !errors.As(err, &le) || le.ResultCode != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want code %d saying %q", err, tt.code, tt.want)
			}
			if !slices.Equal(uids, []string{"a"}) || !b.broken {
				t.Errorf("entries %v, broken %v; want the first entry and a broken connection", uids, b.broken)
			}
		})
	}
}

// A server that stops answering is given up after the timeout without a
// byte; a cancelled context ends the wait sooner.
func TestBulkSearch_SilenceAndCancel(t *testing.T) {
	s := startFake(t, func(c net.Conn, req *ber.Packet) {
		if req.Children[1].Tag == opSearchRequest {
			c.Write(user(requestID(req), "a"))
		}
	})
	b := dialFake(t, s, 300*time.Millisecond)
	start := time.Now()
	uids, _, err := collect(b, 0)
	if took := time.Since(start); took > 3*time.Second || !b.watch.isStalled() || !goldap.IsErrorWithCode(err, goldap.ErrorNetwork) || len(uids) != 1 {
		t.Errorf("after %s: %v, %v, stalled %v", took, uids, err, b.watch.isStalled())
	}

	b = dialFake(t, s, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	n, err := b.search(ctx, everyone, 0, func(*entryView) error { return nil }, func(string) {})
	if took := time.Since(start); took > 3*time.Second || n != 1 || !b.interrupted || b.watch.isStalled() {
		t.Errorf("cancelled after %s: %d entries, %v, interrupted %v", took, n, err, b.interrupted)
	}
}

// A bulk pool closed under a search stops it: no entry is delivered after.
func TestBulkPool_CloseStopsTheSearchesInUse(t *testing.T) {
	s := startFake(t, func(c net.Conn, req *ber.Packet) {
		if req.Children[1].Tag == opSearchRequest {
			for _, uid := range []string{"a", "b", "c"} {
				c.Write(user(requestID(req), uid))
			}
			c.Write(doneMessage(requestID(req), 0, "", nil, nil))
		}
	})
	c, err := newConnector(Config{Name: "fake", URL: "ldap://" + s.addr, Timeout: Duration{5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var p bulkPool
	b, _, err := p.take(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.search(context.Background(), everyone, 0, func(*entryView) error {
		p.close()
		return nil
	}, func(string) {})
	p.put(b)
	if n != 1 || !goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
		t.Errorf("%d entries, %v; want 1 and a closed connection", n, err)
	}
	if p.lost.Load() {
		t.Error("a closed session's connection counted as lost")
	}
	if _, _, err := p.take(context.Background(), c); err == nil {
		t.Error("a closed pool handed out a connection")
	}
}

// A kept connection the server closed while it sat idle is replaced, once,
// when the search read nothing from it; one that had delivered entries is
// not, and neither is a new one.
func TestBulkPool_ReplacesAConnectionClosedWhileIdle(t *testing.T) {
	var mu sync.Mutex
	conns := map[net.Conn]int{}
	// number is the order in which c first asked for something.
	number := func(c net.Conn) int {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := conns[c]; !ok {
			conns[c] = len(conns) + 1
		}
		return conns[c]
	}
	s := startFake(t, func(c net.Conn, req *ber.Packet) {
		if req.Children[1].Tag != opSearchRequest {
			return
		}
		id := requestID(req)
		switch req.Children[1].Children[0].Value {
		case "dc=idle-timeout": // the first connection is closed once idle
			c.Write(user(id, fmt.Sprint("conn", number(c))))
			c.Write(doneMessage(id, 0, "", nil, nil))
			if number(c) == 1 {
				time.Sleep(50 * time.Millisecond)
				c.Close()
			}
		case "dc=cut": // cut after an entry, on every connection
			c.Write(user(id, "a"))
			c.Close()
		}
	})
	c, err := newConnector(Config{Name: "fake", URL: "ldap://" + s.addr, Timeout: Duration{5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(p *bulkPool, base string) ([]string, error) {
		var uids []string
		req := everyone
		req.base = base
		_, _, err := p.search(context.Background(), c, req, 0, func(v *entryView) error {
			uids = append(uids, string(v.first("uid")))
			return nil
		}, func(string) {})
		return uids, err
	}

	var p bulkPool
	defer p.close()
	if uids, err := run(&p, "dc=idle-timeout"); err != nil || !slices.Equal(uids, []string{"conn1"}) {
		t.Fatalf("first search: %v, %v", uids, err)
	}
	time.Sleep(200 * time.Millisecond) // the server closes the idle connection
	if uids, err := run(&p, "dc=idle-timeout"); err != nil || !slices.Equal(uids, []string{"conn2"}) {
		t.Errorf("search after the idle connection was closed: %v, %v; want a new connection's answer", uids, err)
	}
	if p.lost.Load() {
		t.Error("a connection closed while idle gave up the session")
	}

	var q bulkPool
	defer q.close()
	if uids, err := run(&q, "dc=cut"); !goldap.IsErrorWithCode(err, goldap.ErrorNetwork) || len(uids) != 1 {
		t.Errorf("a search cut after an entry: %v, %v; want the entry and the loss", uids, err)
	}
	if !q.lost.Load() {
		t.Error("a connection lost in the middle of a search did not give up the session")
	}
}

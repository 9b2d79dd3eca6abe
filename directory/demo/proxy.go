package demo

import (
	"io"
	"net"
	"sync"
)

// front is the server's public listener: it relays every connection to
// gldap's listener and can cut them all, which gldap alone cannot (its Stop
// waits for clients to hang up). It also knows its own port from the
// start.
type front struct {
	ln      net.Listener
	backend string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newFront(addr, backend string) (*front, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &front{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", f.backend)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !f.track(c, b) {
			return
		}
		f.wg.Add(2)
		go f.pipe(b, c)
		go f.pipe(c, b)
	}
}

// track remembers a relayed pair; false (and both closed) after close.
func (f *front) track(c, b net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		_ = c.Close()
		_ = b.Close()
		return false
	}
	f.conns[c], f.conns[b] = struct{}{}, struct{}{}
	return true
}

// pipe copies until either side ends, then closes both.
func (f *front) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	f.mu.Lock()
	delete(f.conns, dst)
	delete(f.conns, src)
	f.mu.Unlock()
	_ = dst.Close()
	_ = src.Close()
}

// drop cuts every open connection; the listener stays.
func (f *front) drop() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.conns) / 2
	for c := range f.conns {
		_ = c.Close()
	}
	return n
}

// close stops accepting, cuts every connection and waits for the relays.
func (f *front) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	_ = f.ln.Close()
	f.drop()
	f.wg.Wait()
}

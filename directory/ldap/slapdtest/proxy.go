package slapdtest

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// ProxyOptions configure a Proxy.
type ProxyOptions struct {
	// MaxValues is how many values of a ranged attribute one answer
	// carries, as Active Directory's MaxValRange (default 1500).
	MaxValues int
	// RangeAttrs are the attributes answered in ranges (default member).
	RangeAttrs []string
	// StopRangesAt, when positive, makes a ranged request starting at or
	// beyond this value come back without the attribute: a range that
	// stops early.
	StopRangesAt int
	// Delay holds every message from the server for this long before it
	// is forwarded: a slow but steady server or link, on which a large
	// search takes long while no single wait does.
	Delay time.Duration
}

// Proxy sits between a client and slapd on the wire and makes slapd's
// answers look like Active Directory's where slapd differs: a multi-valued
// attribute (member) with more than MaxValues values comes back as
// member;range=0-1499, and a request for member;range=1500-2999 is
// answered from slapd's whole attribute as AD would answer it. slapd
// itself ignores range options (it returns nothing for
// member;range=0-1499 alone, and plain member when both are asked).
//
// It also cuts connections on demand, after a given number of search
// result entries: a server lost in the middle of a read; and it can slow
// every answer down (ProxyOptions.Delay).
type Proxy struct {
	// URL is ldap://127.0.0.1:PORT; the proxy speaks plain LDAP.
	URL string

	target  string
	opts    ProxyOptions
	ln      net.Listener
	cutAt   atomic.Int64 // 0: never
	entries atomic.Int64
	onEntry atomic.Pointer[func(int)]

	mu    sync.Mutex
	conns []net.Conn
}

// NewProxy starts a proxy in front of the plain-LDAP server at target
// (host:port, e.g. Server.Addr); it stops when the test ends.
func NewProxy(t testing.TB, target string, opts ProxyOptions) *Proxy {
	t.Helper()
	if opts.MaxValues <= 0 {
		opts.MaxValues = 1500
	}
	if len(opts.RangeAttrs) == 0 {
		opts.RangeAttrs = []string{"member"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{URL: "ldap://" + ln.Addr().String(), target: target, opts: opts, ln: ln}
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// CutAfterEntries makes the proxy close every connection once n more
// search result entries have passed through it (0 turns it off).
func (p *Proxy) CutAfterEntries(n int) {
	if n <= 0 {
		p.cutAt.Store(0)
		return
	}
	p.cutAt.Store(p.entries.Load() + int64(n))
}

// OnEntry calls fn with the running count of search result entries (1,
// 2, …) before each is forwarded, on the proxy's goroutine: to act at an
// exact point of a read, e.g. kill the server.
func (p *Proxy) OnEntry(fn func(count int)) { p.onEntry.Store(&fn) }

// Entries is the number of search result entries forwarded so far.
func (p *Proxy) Entries() int { return int(p.entries.Load()) }

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.cutAll()
}

// CutAll closes every connection through the proxy now, as a directory
// restart would; the proxy goes on accepting new ones.
func (p *Proxy) CutAll() { p.cutAll() }

func (p *Proxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *Proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		s := &proxySession{p: p, ranges: map[int64][]rangeAsk{}}
		go s.upstream(client, server)
		go s.downstream(server, client)
	}
}

// rangeAsk is what a search asked of a ranged attribute.
type rangeAsk struct {
	attr     string
	start    int
	end      int  // -1 for "*"
	explicit bool // asked with ;range= (else plain, answered in ranges only when large)
}

type proxySession struct {
	p      *Proxy
	mu     sync.Mutex
	ranges map[int64][]rangeAsk
}

func (s *proxySession) isRangeAttr(name string) bool {
	for _, a := range s.p.opts.RangeAttrs {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// upstream forwards requests, rewriting attr;range=a-b into attr.
func (s *proxySession) upstream(client, server net.Conn) {
	defer client.Close()
	defer server.Close()
	for {
		pkt, err := ber.ReadPacket(client)
		if err != nil {
			return
		}
		if len(pkt.Children) >= 2 && pkt.Children[1].ClassType == ber.ClassApplication && pkt.Children[1].Tag == 3 {
			pkt = s.rewriteRequest(pkt)
		}
		if _, err := server.Write(pkt.Bytes()); err != nil {
			return
		}
	}
}

func messageID(pkt *ber.Packet) int64 {
	if len(pkt.Children) == 0 {
		return -1
	}
	id, _ := pkt.Children[0].Value.(int64)
	return id
}

func rebuild(p *ber.Packet, children []*ber.Packet) *ber.Packet {
	np := &ber.Packet{Identifier: p.Identifier, Data: new(bytes.Buffer), Description: p.Description}
	for _, c := range children {
		np.AppendChild(c)
	}
	return np
}

func octetString(s string) *ber.Packet {
	return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
}

func packetString(p *ber.Packet) string {
	if s, ok := p.Value.(string); ok {
		return s
	}
	return p.Data.String()
}

func (s *proxySession) rewriteRequest(pkt *ber.Packet) *ber.Packet {
	op := pkt.Children[1]
	if len(op.Children) < 8 {
		return pkt
	}
	var asks []rangeAsk
	var attrs []string
	plain := map[string]bool{}
	for _, a := range op.Children[7].Children {
		desc := packetString(a)
		name, opt, hasOpt := strings.Cut(desc, ";")
		if !s.isRangeAttr(name) {
			attrs = append(attrs, desc)
			continue
		}
		if !hasOpt {
			plain[strings.ToLower(name)] = true
			attrs = append(attrs, desc)
			continue
		}
		v, ok := strings.CutPrefix(strings.ToLower(opt), "range=")
		lo, hi, dash := strings.Cut(v, "-")
		start, err := strconv.Atoi(lo)
		if !ok || !dash || err != nil {
			attrs = append(attrs, desc)
			continue
		}
		end := -1
		if hi != "*" {
			if end, err = strconv.Atoi(hi); err != nil {
				attrs = append(attrs, desc)
				continue
			}
		}
		asks = append(asks, rangeAsk{attr: name, start: start, end: end, explicit: true})
		if !plain[strings.ToLower(name)] {
			plain[strings.ToLower(name)] = true
			attrs = append(attrs, name)
		}
	}
	for name := range plain {
		found := false
		for _, a := range asks {
			if strings.EqualFold(a.attr, name) {
				found = true
			}
		}
		if !found {
			asks = append(asks, rangeAsk{attr: name, start: 0, end: -1})
		}
	}
	if len(asks) == 0 {
		return pkt
	}
	s.mu.Lock()
	s.ranges[messageID(pkt)] = asks
	s.mu.Unlock()
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range attrs {
		list.AppendChild(octetString(a))
	}
	children := append(append([]*ber.Packet{}, op.Children[:7]...), list)
	children = append(children, op.Children[8:]...)
	newOp := rebuild(op, children)
	return rebuild(pkt, append([]*ber.Packet{pkt.Children[0], newOp}, pkt.Children[2:]...))
}

// downstream forwards answers, answering asked attributes in ranges, and
// cuts the connection when told to.
func (s *proxySession) downstream(server, client net.Conn) {
	defer client.Close()
	defer server.Close()
	for {
		pkt, err := ber.ReadPacket(server)
		if err != nil {
			return
		}
		if len(pkt.Children) >= 2 && pkt.Children[1].ClassType == ber.ClassApplication {
			switch pkt.Children[1].Tag {
			case 4: // SearchResultEntry
				s.mu.Lock()
				asks := s.ranges[messageID(pkt)]
				s.mu.Unlock()
				if len(asks) > 0 {
					pkt = s.rewriteEntry(pkt, asks)
				}
				n := s.p.entries.Add(1)
				if fn := s.p.onEntry.Load(); fn != nil {
					(*fn)(int(n))
				}
				if cut := s.p.cutAt.Load(); cut > 0 && n > cut {
					s.p.cutAll()
					return
				}
			case 5: // SearchResultDone
				s.mu.Lock()
				delete(s.ranges, messageID(pkt))
				s.mu.Unlock()
			}
		}
		if d := s.p.opts.Delay; d > 0 {
			time.Sleep(d)
		}
		if _, err := client.Write(pkt.Bytes()); err != nil {
			return
		}
	}
}

func (s *proxySession) rewriteEntry(pkt *ber.Packet, asks []rangeAsk) *ber.Packet {
	op := pkt.Children[1]
	if len(op.Children) < 2 {
		return pkt
	}
	maxVals := s.p.opts.MaxValues
	var attrs []*ber.Packet
	for _, a := range op.Children[1].Children {
		if len(a.Children) < 2 {
			attrs = append(attrs, a)
			continue
		}
		name := packetString(a.Children[0])
		var ask *rangeAsk
		for i := range asks {
			if strings.EqualFold(asks[i].attr, name) {
				ask = &asks[i]
			}
		}
		if ask == nil {
			attrs = append(attrs, a)
			continue
		}
		values := a.Children[1].Children
		if !ask.explicit && len(values) <= maxVals {
			attrs = append(attrs, a)
			continue
		}
		if s.p.opts.StopRangesAt > 0 && ask.start >= s.p.opts.StopRangesAt {
			continue // the range stops early: no values at all
		}
		start := min(ask.start, len(values))
		end := start + maxVals - 1
		if ask.end >= 0 && ask.end < end {
			end = ask.end
		}
		label := strconv.Itoa(start) + "-" + strconv.Itoa(end)
		if end >= len(values)-1 {
			end = len(values) - 1
			label = strconv.Itoa(start) + "-*"
		}
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "Values")
		for _, v := range values[start : end+1] {
			set.AppendChild(v)
		}
		attr := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
		attr.AppendChild(octetString(name + ";range=" + label))
		attr.AppendChild(set)
		attrs = append(attrs, attr)
	}
	list := rebuild(op.Children[1], attrs)
	newOp := rebuild(op, append([]*ber.Packet{op.Children[0], list}, op.Children[2:]...))
	return rebuild(pkt, append([]*ber.Packet{pkt.Children[0], newOp}, pkt.Children[2:]...))
}

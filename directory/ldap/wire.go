package ldap

import (
	"errors"
	"fmt"
	"io"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// LDAP messages (RFC 4511) as the bulk connection reads and writes them.
// A message is read whole into a reused buffer and decoded in place: an
// entry's DN, attribute descriptions and values are views into that buffer
// (entryView), valid until the next message is read, and whatever is kept
// is copied out of it by the flavor's mapping.

// Protocol operations, as [APPLICATION n] tags.
const (
	opBindRequest     = 0
	opBindResponse    = 1
	opUnbindRequest   = 2
	opSearchRequest   = 3
	opSearchEntry     = 4
	opSearchDone      = 5
	opAbandonRequest  = 16
	opSearchReference = 19
	opExtendedRequest = 23
	opExtendedResp    = 24
)

// Identifier octets of what the bulk connection writes.
const (
	idSequence    = 0x30
	idOctetString = 0x04
	idInteger     = 0x02
	idEnumerated  = 0x0a
	idBoolean     = 0x01
	idAppCons     = classApplication | 0x20 // [APPLICATION n] constructed, plus n
	idAppPrim     = classApplication        // [APPLICATION n] primitive, plus n
	idContextPrim = classContext            // [n] primitive, plus n
	idContextCons = classContext | 0x20     // [n] constructed, plus n
)

// oidStartTLS names the StartTLS extended operation (RFC 4511 section 4.14).
const oidStartTLS = "1.3.6.1.4.1.1466.20037"

// Read buffer sizes: the buffer starts at readBufSize, grows (doubling, as
// bytes arrive) to hold the largest message read, and is given back once
// empty when it grew past shrinkBufSize. maxMessageSize bounds one message:
// a group entry of a million members in a server that sends member whole
// is about 60 MB.
const (
	readBufSize    = 64 << 10
	shrinkBufSize  = 1 << 20
	maxMessageSize = 512 << 20
)

// msgReader splits the byte stream of a connection into LDAP messages.
type msgReader struct {
	r io.Reader
	// watch, when set, is told when the reader waits for the network, so
	// that its watchdog counts only those waits.
	watch *watchConn
	// max is the largest message accepted (maxMessageSize when 0).
	max        int
	buf        []byte
	start, end int // buf[start:end] is read and not yet returned
}

// errMalformed marks what the server sent that is not LDAP: a framing or
// decoding error, as opposed to an error of the connection.
var errMalformed = errors.New("malformed LDAP message")

// errMessageTooLarge is a message whose length exceeds the reader's max.
var errMessageTooLarge = fmt.Errorf("%w: too large", errMalformed)

// next returns the next whole message (its complete encoding), a view
// into the reader's buffer valid until the next call. It allocates only to
// grow the buffer, and only as bytes arrive: a length the bytes never
// follow costs no more than the bytes that did. At the end of the stream
// between messages it returns io.EOF; inside one, io.ErrUnexpectedEOF.
func (m *msgReader) next() ([]byte, error) {
	if m.start == m.end && len(m.buf) > shrinkBufSize {
		m.buf, m.start, m.end = nil, 0, 0
	}
	limit := m.max
	if limit <= 0 {
		limit = maxMessageSize
	}
	for {
		avail := m.buf[m.start:m.end]
		total, err := messageSize(avail, limit)
		if err == nil && total <= len(avail) {
			m.start += total
			return avail[:total:total], nil
		}
		if err != nil && err != errTruncated {
			return nil, err
		}
		need := total // 0 while the header itself is incomplete
		if err := m.fill(need); err != nil {
			if err == io.EOF && len(avail) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// messageSize is the total size of the message that b starts with, header
// included: errTruncated (with the size, when known) when b holds less.
func messageSize(b []byte, limit int) (int, error) {
	if len(b) == 0 {
		return 0, errTruncated
	}
	if b[0] != idSequence {
		return 0, fmt.Errorf("%w: it starts with 0x%02x", errMalformed, b[0])
	}
	n, size, err := readLength(b[1:])
	if err == errTruncated {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if n > uint64(limit) {
		return 0, fmt.Errorf("%w: %d bytes (at most %d)", errMessageTooLarge, n, limit)
	}
	total := 1 + size + int(n)
	if total > len(b) {
		return total, errTruncated
	}
	return total, nil
}

// fill reads more bytes, making room first: need is the size of the
// message being read when known. The buffer grows by doubling, never to a
// length not yet received.
func (m *msgReader) fill(need int) error {
	if m.end == len(m.buf) {
		unread := m.end - m.start
		if m.start > 0 {
			copy(m.buf, m.buf[m.start:m.end])
		} else {
			size := max(2*len(m.buf), readBufSize)
			if need > len(m.buf) {
				size = min(size, need)
			}
			buf := make([]byte, size)
			copy(buf, m.buf[m.start:m.end])
			m.buf = buf
		}
		m.start, m.end = 0, unread
	}
	if m.watch != nil {
		m.watch.begin()
	}
	n, err := m.r.Read(m.buf[m.end:])
	if m.watch != nil {
		m.watch.end()
	}
	m.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// buffered reports whether bytes were read and not yet returned.
func (m *msgReader) buffered() bool { return m.start < m.end }

// message is one decoded LDAPMessage: its ID, its protocol operation and
// the contents of its controls, views into the message's bytes.
type message struct {
	id       int64
	op       element
	controls []byte
}

// parseMessage decodes the envelope of one message, as msgReader.next
// returns it.
func parseMessage(b []byte) (message, error) {
	var m message
	env, rest, err := readElement(b)
	if err != nil {
		return m, err
	}
	if !env.is(classUniversal, true, tagSequence) || len(rest) > 0 {
		return m, errors.New("not an LDAP message")
	}
	id, body, err := readElement(env.content)
	if err != nil {
		return m, err
	}
	if !id.is(classUniversal, false, tagInteger) {
		return m, errors.New("LDAP message without a message ID")
	}
	if m.id, err = readInt(id.content); err != nil {
		return m, err
	}
	if m.op, body, err = readElement(body); err != nil {
		return m, err
	}
	if m.op.class != classApplication {
		return m, fmt.Errorf("LDAP message %d holds no protocol operation", m.id)
	}
	if len(body) > 0 {
		ctl, _, err := readElement(body)
		if err != nil {
			return m, err
		}
		if ctl.is(classContext, true, 0) {
			m.controls = ctl.content
		}
	}
	return m, nil
}

// result is an LDAPResult: what ends a search, a bind or StartTLS.
type result struct {
	code      int64
	matchedDN []byte
	diag      []byte
	referrals [][]byte
}

// parseResult decodes the LDAPResult that opens content (a
// SearchResultDone, BindResponse or ExtendedResponse).
func parseResult(content []byte) (result, error) {
	var r result
	code, rest, err := readElement(content)
	if err != nil {
		return r, err
	}
	if code.constructed {
		return r, errors.New("LDAP result without a result code")
	}
	if r.code, err = readInt(code.content); err != nil {
		return r, err
	}
	dn, rest, err := readElement(rest)
	if err != nil {
		return r, err
	}
	diag, rest, err := readElement(rest)
	if err != nil {
		return r, err
	}
	if dn.constructed || diag.constructed {
		return r, errors.New("malformed LDAP result")
	}
	r.matchedDN, r.diag = dn.content, diag.content
	if len(rest) > 0 {
		ref, _, err := readElement(rest)
		if err == nil && ref.is(classContext, true, 3) {
			for p := ref.content; len(p) > 0; {
				var uri element
				if uri, p, err = readElement(p); err != nil {
					return r, err
				}
				r.referrals = append(r.referrals, uri.content)
			}
		}
	}
	return r, nil
}

// err is the result as go-ldap reports it (an *ldap.Error with the result
// code and the server's message), so that errors are told apart the same
// way whichever connection read them; nil for success.
func (r result) err() error {
	if r.code == goldap.LDAPResultSuccess {
		return nil
	}
	msg := string(r.diag)
	if len(r.referrals) > 0 {
		refs := make([]string, len(r.referrals))
		for i, ref := range r.referrals {
			refs[i] = string(ref)
		}
		msg = strings.TrimSpace(msg + " (referred to " + strings.Join(refs, ", ") + ")")
	}
	code := uint16(goldap.ErrorUnexpectedResponse)
	if r.code > 0 && r.code < 200 {
		code = uint16(r.code)
	}
	return &goldap.Error{ResultCode: code, MatchedDN: string(r.matchedDN), Err: errors.New(msg)}
}

// pagingCookie finds the paged-results control among the contents of a
// message's controls: its cookie (a view) and whether it was there.
func pagingCookie(controls []byte) ([]byte, bool, error) {
	for p := controls; len(p) > 0; {
		var ctl element
		var err error
		if ctl, p, err = readElement(p); err != nil {
			return nil, false, err
		}
		oid, rest, err := readElement(ctl.content)
		if err != nil {
			return nil, false, err
		}
		if string(oid.content) != oidPaging {
			continue
		}
		// criticality BOOLEAN DEFAULT FALSE, then controlValue.
		val, rest, err := readElement(rest)
		if err == nil && val.is(classUniversal, false, tagBoolean) {
			val, _, err = readElement(rest)
		}
		if err != nil {
			return nil, false, fmt.Errorf("paged results control: %w", err)
		}
		seq, _, err := readElement(val.content)
		if err != nil {
			return nil, false, fmt.Errorf("paged results control: %w", err)
		}
		size, rest, err := readElement(seq.content)
		if err != nil || !size.is(classUniversal, false, tagInteger) {
			return nil, false, errors.New("paged results control without a size")
		}
		cookie, _, err := readElement(rest)
		if err != nil || cookie.constructed {
			return nil, false, errors.New("paged results control without a cookie")
		}
		return cookie.content, true, nil
	}
	return nil, false, nil
}

// maxKeptValues bounds the capacity of the value and attribute lists an
// entryView keeps between entries: past it (a group entry with every
// member), the next entry starts new ones.
const maxKeptValues = 4096

// decode fills v with the SearchResultEntry whose contents are content, in
// place: v's slices point into content. It checks the structure as
// go-ldap does (an attribute is a description and a set of values, all
// strings), not the universal tag numbers, and never reads outside
// content.
func (v *entryView) decode(content []byte) error {
	if cap(v.vals) > maxKeptValues {
		v.vals = nil
	}
	if cap(v.attrs) > maxKeptValues {
		v.attrs = nil
	}
	v.dn, v.attrs, v.vals = nil, v.attrs[:0], v.vals[:0]
	dn, rest, err := readElement(content)
	if err != nil {
		return err
	}
	if dn.constructed {
		return errors.New("search result entry without a DN")
	}
	list, _, err := readElement(rest)
	if err != nil {
		return err
	}
	if !list.constructed {
		return errors.New("search result entry without an attribute list")
	}
	v.dn = dn.content
	for p := list.content; len(p) > 0; {
		var attr element
		if attr, p, err = readElement(p); err != nil {
			return err
		}
		if !attr.constructed {
			return errors.New("malformed attribute")
		}
		desc, q, err := readElement(attr.content)
		if err != nil {
			return err
		}
		if desc.constructed {
			return errors.New("malformed attribute description")
		}
		set, _, err := readElement(q)
		if err != nil {
			return fmt.Errorf("attribute %q without its values: %w", desc.content, err)
		}
		if !set.constructed {
			return fmt.Errorf("attribute %q: malformed value set", desc.content)
		}
		start := len(v.vals)
		for r := set.content; len(r) > 0; {
			var val element
			if val, r, err = readElement(r); err != nil {
				return err
			}
			if val.constructed {
				return fmt.Errorf("attribute %q: malformed value", desc.content)
			}
			v.vals = append(v.vals, val.content)
		}
		v.attrs = append(v.attrs, viewAttr{desc: desc.content, start: start, end: len(v.vals)})
	}
	return nil
}

// firstReference is the first URI of a SearchResultReference. The others,
// when there are any, are other places holding the same entries (RFC 4511
// section 4.5.3); go-ldap reports the first too.
func firstReference(content []byte) (string, error) {
	uri, _, err := readElement(content)
	if err != nil {
		return "", err
	}
	if uri.constructed {
		return "", errors.New("malformed search result reference")
	}
	return string(uri.content), nil
}

// Requests.

// envelope wraps a protocol operation (its full encoding) and controls
// (the encoded Control elements, or nil) into an LDAPMessage.
func envelope(id int64, op, controls []byte) []byte {
	body := appendInt(make([]byte, 0, len(op)+len(controls)+16), idInteger, id)
	body = append(body, op...)
	if len(controls) > 0 {
		body = appendElement(body, idContextCons|0, controls)
	}
	return appendElement(make([]byte, 0, len(body)+8), idSequence, body)
}

// bindRequest is a simple bind as dn with password.
func bindRequest(id int64, dn, password string) []byte {
	var b []byte
	b = appendInt(b, idInteger, 3)
	b = appendString(b, idOctetString, dn)
	b = appendString(b, idContextPrim|0, password)
	return envelope(id, appendElement(nil, idAppCons|opBindRequest, b), nil)
}

// startTLSRequest asks the server to start TLS.
func startTLSRequest(id int64) []byte {
	b := appendString(nil, idContextPrim|0, oidStartTLS)
	return envelope(id, appendElement(nil, idAppCons|opExtendedRequest, b), nil)
}

// abandonRequest asks the server to stop operation target.
func abandonRequest(id, target int64) []byte {
	b := appendInt(nil, idAppPrim|opAbandonRequest, target)
	return envelope(id, b, nil)
}

// unbindRequest says goodbye.
func unbindRequest(id int64) []byte {
	return envelope(id, []byte{idAppPrim | opUnbindRequest, 0}, nil)
}

// searchRequest is req with its filter compiled (filter, the encoded
// Filter), asking for pages of pageSize entries from cookie on when
// pageSize is positive.
func searchRequest(id int64, req searchReq, filter []byte, pageSize int, cookie []byte) []byte {
	var b []byte
	b = appendString(b, idOctetString, req.base)
	b = appendInt(b, idEnumerated, int64(req.scope))
	b = appendInt(b, idEnumerated, int64(goldap.NeverDerefAliases))
	b = appendInt(b, idInteger, 0) // no size limit of ours
	b = appendInt(b, idInteger, 0) // no time limit of ours
	b = append(b, idBoolean, 1, 0) // typesOnly: false
	b = append(b, filter...)
	var attrs []byte
	for _, a := range req.attrs {
		attrs = appendString(attrs, idOctetString, a)
	}
	b = appendElement(b, idSequence, attrs)
	op := appendElement(nil, idAppCons|opSearchRequest, b)
	if pageSize <= 0 {
		return envelope(id, op, nil)
	}
	// The paged-results control (RFC 2696), not critical, as go-ldap
	// sends it: a server without it answers with every entry at once.
	value := appendInt(nil, idInteger, int64(pageSize))
	value = appendElement(value, idOctetString, cookie)
	ctl := appendString(nil, idOctetString, oidPaging)
	ctl = appendElement(ctl, idOctetString, appendElement(nil, idSequence, value))
	return envelope(id, op, appendElement(nil, idSequence, ctl))
}

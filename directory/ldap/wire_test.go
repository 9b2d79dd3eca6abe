package ldap

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// guidBytes is an objectGUID as Active Directory stores it: binary, with
// a zero byte, bytes above 0x7f and none of it valid UTF-8.
var guidBytes = []byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}

const guidText = "00112233-4455-6677-8899-aabbccddeeff"

// attr is one attribute of a test entry.
type attr struct {
	name string
	vals []string
}

// entryMessage encodes a SearchResultEntry as a server would, with
// go-asn1-ber (the encoder go-ldap's tests trust).
func entryMessage(id int64, dn string, attrs ...attr) []byte {
	msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
	msg.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, opSearchEntry, nil, "SearchResultEntry")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "objectName"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attributes")
	for _, a := range attrs {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "PartialAttribute")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.name, "type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		for _, v := range a.vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "value"))
		}
		pa.AppendChild(set)
		list.AppendChild(pa)
	}
	op.AppendChild(list)
	msg.AppendChild(op)
	return msg.Bytes()
}

// doneMessage encodes a SearchResultDone with result code code, message
// diag, the referral URIs refs and, when cookie is not nil, a paged-results
// control carrying it.
func doneMessage(id int64, code int64, diag string, refs []string, cookie []byte) []byte {
	msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
	msg.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, opSearchDone, nil, "SearchResultDone")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "resultCode"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "diagnosticMessage"))
	if len(refs) > 0 {
		ref := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "referral")
		for _, r := range refs {
			ref.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, r, "URI"))
		}
		op.AppendChild(ref)
	}
	msg.AppendChild(op)
	if cookie != nil {
		paging := goldap.NewControlPaging(0)
		paging.SetCookie(cookie)
		controls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		controls.AppendChild(paging.Encode())
		msg.AppendChild(controls)
	}
	return msg.Bytes()
}

// referenceMessage encodes a SearchResultReference.
func referenceMessage(id int64, uris ...string) []byte {
	msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
	msg.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, opSearchReference, nil, "SearchResultReference")
	for _, u := range uris {
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, u, "URI"))
	}
	msg.AppendChild(op)
	return msg.Bytes()
}

// decodeEntry decodes a whole message that must hold a SearchResultEntry.
func decodeEntry(t testing.TB, b []byte) *entryView {
	t.Helper()
	m, err := parseMessage(b)
	if err != nil {
		t.Fatalf("parseMessage: %v", err)
	}
	if !m.op.is(classApplication, true, opSearchEntry) {
		t.Fatalf("operation %d, want a search result entry", m.op.tag)
	}
	v := new(entryView)
	if err := v.decode(m.op.content); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func TestReadElement(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 300)
	tests := []struct {
		name    string
		in      []byte
		class   byte
		cons    bool
		tag     uint32
		content []byte
		rest    []byte
	}{
		{"short form", []byte{0x04, 0x02, 'h', 'i', 0xAA}, classUniversal, false, 4, []byte("hi"), []byte{0xAA}},
		{"empty", []byte{0x31, 0x00}, classUniversal, true, 17, []byte{}, []byte{}},
		{"long form, one octet", append([]byte{0x04, 0x81, 0x05}, "hello"...), classUniversal, false, 4, []byte("hello"), []byte{}},
		{"long form, two octets", append([]byte{0x04, 0x82, 0x01, 0x2c}, long...), classUniversal, false, 4, long, []byte{}},
		{"long form, not minimal", append([]byte{0x04, 0x84, 0, 0, 0, 0x02}, "ok"...), classUniversal, false, 4, []byte("ok"), []byte{}},
		{"application, constructed", []byte{0x64, 0x00}, classApplication, true, opSearchEntry, []byte{}, []byte{}},
		{"context, primitive", []byte{0x80, 0x01, 0x07}, classContext, false, 0, []byte{0x07}, []byte{}},
		{"multi-byte tag 31", []byte{0x1f, 0x1f, 0x01, 0x00}, classUniversal, false, 31, []byte{0x00}, []byte{}},
		{"multi-byte tag 128", []byte{0x5f, 0x81, 0x00, 0x00}, classApplication, false, 128, []byte{}, []byte{}},
		{"multi-byte tag, 4 octets", []byte{0xbf, 0xff, 0xff, 0xff, 0x7f, 0x00}, classContext, true, 1<<28 - 1, []byte{}, []byte{}},
	}
	for _, tt := range tests {
		e, rest, err := readElement(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if e.class != tt.class || e.constructed != tt.cons || e.tag != tt.tag || !bytes.Equal(e.content, tt.content) || !bytes.Equal(rest, tt.rest) {
			t.Errorf("%s: got class %#x cons %v tag %d content %q rest %x", tt.name, e.class, e.constructed, e.tag, e.content, rest)
		}
		// The contents cannot be appended to over what follows them.
		if cap(e.content) != len(e.content) {
			t.Errorf("%s: content has room for %d more bytes", tt.name, cap(e.content)-len(e.content))
		}
	}

	bad := []struct {
		name string
		in   []byte
	}{
		{"nothing", nil},
		{"identifier only", []byte{0x04}},
		{"truncated contents", []byte{0x04, 0x05, 'a', 'b'}},
		{"truncated long length", []byte{0x04, 0x82, 0x01}},
		{"truncated multi-byte tag", []byte{0x1f, 0x81}},
		{"multi-byte tag too long", []byte{0x1f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00}},
		{"indefinite length", []byte{0x30, 0x80, 0x00, 0x00}},
		{"reserved length octet", []byte{0x04, 0xff}},
		{"length of 9 octets", []byte{0x04, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"length of 2^64-1", []byte{0x04, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'}},
		{"length of 2^63", []byte{0x04, 0x88, 0x80, 0, 0, 0, 0, 0, 0, 0, 'x'}},
	}
	for _, tt := range bad {
		if e, rest, err := readElement(tt.in); err == nil {
			t.Errorf("%s: read %+v, rest %x; want an error", tt.name, e, rest)
		}
	}
}

func TestReadInt(t *testing.T) {
	for in, want := range map[string]int64{
		"\x00": 0, "\x7f": 127, "\x00\x80": 128, "\x80": -128, "\xff": -1, "\x01\x00": 256,
		"\x7f\xff\xff\xff": 1<<31 - 1, "\x80\x00\x00\x00\x00\x00\x00\x00": -1 << 63,
	} {
		if got, err := readInt([]byte(in)); err != nil || got != want {
			t.Errorf("readInt(%x) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\x01\x02\x03\x04\x05\x06\x07\x08\x09"} {
		if _, err := readInt([]byte(in)); err == nil {
			t.Errorf("readInt(%x) succeeded", in)
		}
	}
	for _, v := range []int64{0, 1, 127, 128, 255, 256, -1, -128, -129, 1<<31 - 1, 1 << 40, -1 << 63, 1<<63 - 1} {
		b := appendInt(nil, idInteger, v)
		e, _, err := readElement(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readInt(e.content)
		if err != nil || got != v {
			t.Errorf("appendInt(%d) = %x, read back %d, %v", v, b, got, err)
		}
		// Minimal: the same as go-asn1-ber's.
		if want := ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, v, "").Bytes(); !bytes.Equal(b, want) {
			t.Errorf("appendInt(%d) = %x, go-asn1-ber says %x", v, b, want)
		}
	}
}

func TestDecodeEntry(t *testing.T) {
	b := entryMessage(7, "uid=anna,ou=people,dc=example,dc=com",
		attr{"uid", []string{"anna"}},
		attr{"objectGUID", []string{string(guidBytes)}},
		attr{"mail", nil}, // no values
		attr{"cn", []string{"Anna Berg", "Anna"}},
		attr{"displayName", []string{"Zoë Å."}},
		attr{"member;range=0-1499", []string{"cn=a", "cn=b"}},
		attr{"description", []string{strings.Repeat("long ", 100)}}, // a long-form length
	)
	v := decodeEntry(t, b)
	if string(v.dn) != "uid=anna,ou=people,dc=example,dc=com" || len(v.attrs) != 7 {
		t.Fatalf("dn %q, %d attributes", v.dn, len(v.attrs))
	}
	if got := v.first("OBJECTGUID"); !bytes.Equal(got, guidBytes) {
		t.Errorf("objectGUID = %x, want %x", got, guidBytes)
	}
	if got := v.first("mail"); got != nil {
		t.Errorf("mail without values = %q, want nil", got)
	}
	if got := v.first("Cn"); string(got) != "Anna Berg" {
		t.Errorf("cn = %q", got)
	}
	if got := v.first("member"); got != nil {
		t.Errorf("member = %q: a ranged description is another attribute", got)
	}
	if got := v.first("absent"); got != nil {
		t.Errorf("absent = %q", got)
	}

	// The go-ldap entry made from the view is the one go-ldap would have
	// decoded.
	e := v.entry()
	want := goldap.NewEntry("uid=anna,ou=people,dc=example,dc=com", nil)
	for _, a := range []attr{
		{"uid", []string{"anna"}}, {"objectGUID", []string{string(guidBytes)}}, {"mail", nil},
		{"cn", []string{"Anna Berg", "Anna"}}, {"displayName", []string{"Zoë Å."}},
		{"member;range=0-1499", []string{"cn=a", "cn=b"}}, {"description", []string{strings.Repeat("long ", 100)}},
	} {
		want.Attributes = append(want.Attributes, goldap.NewEntryAttribute(a.name, a.vals))
	}
	if e.DN != want.DN || len(e.Attributes) != len(want.Attributes) {
		t.Fatalf("entry() = %s with %d attributes", e.DN, len(e.Attributes))
	}
	for i, a := range e.Attributes {
		w := want.Attributes[i]
		if a.Name != w.Name || !slices.Equal(a.Values, w.Values) || len(a.ByteValues) != len(w.ByteValues) {
			t.Errorf("attribute %d = %q %q, want %q %q", i, a.Name, a.Values, w.Name, w.Values)
			continue
		}
		for j := range a.ByteValues {
			if !bytes.Equal(a.ByteValues[j], w.ByteValues[j]) {
				t.Errorf("%s value %d = %x, want %x", a.Name, j, a.ByteValues[j], w.ByteValues[j])
			}
		}
	}
	if got := e.GetEqualFoldRawAttributeValue("objectguid"); !bytes.Equal(got, guidBytes) {
		t.Errorf("entry() objectGUID = %x", got)
	}
	// entry() copies: the buffer the view points into may be reused.
	for i := range b {
		b[i] = 0
	}
	if e.DN != "uid=anna,ou=people,dc=example,dc=com" || e.GetAttributeValue("cn") != "Anna Berg" || !bytes.Equal(e.GetRawAttributeValue("objectGUID"), guidBytes) {
		t.Errorf("entry() shares the read buffer: %+v", e)
	}
}

func TestDecodeEntry_Malformed(t *testing.T) {
	good := entryMessage(2, "cn=x", attr{"cn", []string{"x"}})
	m, err := parseMessage(good)
	if err != nil {
		t.Fatal(err)
	}
	content := m.op.content
	dn := content[:6] // 0x04 0x04 "cn=x"
	if e, _, err := readElement(dn); err != nil || string(e.content) != "cn=x" {
		t.Fatalf("the DN element: %v", err)
	}
	with := func(b ...byte) []byte { return append(append([]byte{}, dn...), b...) }
	tests := []struct {
		name    string
		content []byte
	}{
		{"empty", nil},
		{"DN only", dn},
		{"truncated", content[:len(content)-1]},
		{"constructed DN", append([]byte{0x24, 0x00}, content[6:]...)},
		{"attribute list primitive", with(0x04, 0x00)},
		{"attribute not a sequence", with(0x30, 0x02, 0x04, 0x00)},
		{"description constructed", with(0x30, 0x04, 0x30, 0x02, 0x24, 0x00)},
		{"value set primitive", with(0x30, 0x06, 0x30, 0x04, 0x04, 0x00, 0x04, 0x00)},
		{"value constructed", with(0x30, 0x08, 0x30, 0x06, 0x04, 0x00, 0x31, 0x02, 0x24, 0x00)},
		{"value longer than its set", with(0x30, 0x08, 0x30, 0x06, 0x04, 0x00, 0x31, 0x02, 0x04, 0x05)},
	}
	for _, tt := range tests {
		v := new(entryView)
		if err := v.decode(tt.content); err == nil {
			t.Errorf("%s: decoded %q with %d attributes", tt.name, v.dn, len(v.attrs))
		}
	}
	// An attribute without values has an empty set; one without its set
	// is malformed (for go-ldap too).
	v := new(entryView)
	if err := v.decode(with(0x30, 0x08, 0x30, 0x06, 0x04, 0x02, 'c', 'n', 0x31, 0x00)); err != nil || len(v.attrs) != 1 || v.first("cn") != nil {
		t.Errorf("attribute without values: %v, %+v", err, v)
	}
	if err := v.decode(with(0x30, 0x06, 0x30, 0x04, 0x04, 0x02, 'c', 'n')); err == nil {
		t.Errorf("attribute without its value set: decoded %+v", v)
	}
}

func TestParseMessage(t *testing.T) {
	done := doneMessage(9, goldap.LDAPResultSizeLimitExceeded, "size limit exceeded", nil, []byte("next-page"))
	m, err := parseMessage(done)
	if err != nil || m.id != 9 || !m.op.is(classApplication, true, opSearchDone) {
		t.Fatalf("parseMessage = %+v, %v", m, err)
	}
	r, err := parseResult(m.op.content)
	if err != nil || r.code != goldap.LDAPResultSizeLimitExceeded || string(r.diag) != "size limit exceeded" {
		t.Fatalf("parseResult = %+v, %v", r, err)
	}
	if err := r.err(); !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || !strings.Contains(err.Error(), "size limit exceeded") {
		t.Errorf("result error = %v", err)
	}
	cookie, found, err := pagingCookie(m.controls)
	if err != nil || !found || string(cookie) != "next-page" {
		t.Errorf("pagingCookie = %q, %v, %v", cookie, found, err)
	}

	// The last page: an empty cookie. No control: a server without paging.
	m, _ = parseMessage(doneMessage(10, 0, "", nil, []byte{}))
	if c, found, err := pagingCookie(m.controls); err != nil || !found || len(c) != 0 {
		t.Errorf("last page: cookie %q, %v, %v", c, found, err)
	}
	m, _ = parseMessage(doneMessage(10, 0, "", nil, nil))
	if _, found, err := pagingCookie(m.controls); err != nil || found {
		t.Errorf("no control: found %v, %v", found, err)
	}
	if r, _ := parseResult(m.op.content); r.err() != nil {
		t.Errorf("success: %v", r.err())
	}

	// A referral in place of a result names where it points.
	m, _ = parseMessage(doneMessage(11, goldap.LDAPResultReferral, "", []string{"ldap://other/dc=x"}, nil))
	r, err = parseResult(m.op.content)
	if err != nil || !goldap.IsErrorWithCode(r.err(), goldap.LDAPResultReferral) || !strings.Contains(r.err().Error(), "ldap://other/dc=x") {
		t.Errorf("referral result: %+v, %v", r, r.err())
	}

	m, _ = parseMessage(referenceMessage(12, "ldap://a/dc=a", "ldap://b/dc=a"))
	if uri, err := firstReference(m.op.content); err != nil || uri != "ldap://a/dc=a" {
		t.Errorf("firstReference = %q, %v", uri, err)
	}

	for name, b := range map[string][]byte{
		"not a sequence":      {0x04, 0x00},
		"no message ID":       {0x30, 0x02, 0x04, 0x00},
		"no operation":        {0x30, 0x03, 0x02, 0x01, 0x01},
		"universal operation": {0x30, 0x05, 0x02, 0x01, 0x01, 0x04, 0x00},
		"trailing bytes":      append(append([]byte{}, done...), 0x00, 0x00),
		"ID of 9 octets":      {0x30, 0x0d, 0x02, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x64, 0x00},
	} {
		if m, err := parseMessage(b); err == nil {
			t.Errorf("%s: parsed %+v", name, m)
		}
	}
}

// TestRequestsDecode checks the requests the bulk connection writes with
// go-asn1-ber and go-ldap's own control decoder.
func TestRequestsDecode(t *testing.T) {
	filter, err := goldap.CompileFilter("(&(objectClass=inetOrgPerson)(uid=an*))")
	if err != nil {
		t.Fatal(err)
	}
	req := searchReq{base: "ou=people,dc=example,dc=com", scope: goldap.ScopeWholeSubtree, attrs: []string{"uid", "entryUUID"}}
	b := searchRequest(5, req, filter.Bytes(), 1000, []byte("cookie"))
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Children) != 3 || p.Children[0].Value.(int64) != 5 {
		t.Fatalf("search request: %d children", len(p.Children))
	}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication || op.Tag != opSearchRequest || len(op.Children) != 8 {
		t.Fatalf("search request op: class %d tag %d, %d children", op.ClassType, op.Tag, len(op.Children))
	}
	if op.Children[0].Value != req.base || op.Children[1].Value.(int64) != int64(req.scope) || op.Children[5].Value != false {
		t.Errorf("search request fields: %v %v %v", op.Children[0].Value, op.Children[1].Value, op.Children[5].Value)
	}
	if got, err := goldap.DecompileFilter(op.Children[6]); err != nil || got != "(&(objectClass=inetOrgPerson)(uid=an*))" {
		t.Errorf("filter = %q, %v", got, err)
	}
	if a := op.Children[7].Children; len(a) != 2 || a[0].Value != "uid" || a[1].Value != "entryUUID" {
		t.Errorf("attributes = %v", a)
	}
	ctl, err := goldap.DecodeControl(p.Children[2].Children[0])
	if err != nil {
		t.Fatal(err)
	}
	paging, ok := ctl.(*goldap.ControlPaging)
	if !ok || paging.PagingSize != 1000 || string(paging.Cookie) != "cookie" {
		t.Errorf("paging control = %#v", ctl)
	}
	if p, _ := ber.DecodePacketErr(searchRequest(6, req, filter.Bytes(), 0, nil)); len(p.Children) != 2 {
		t.Errorf("an unpaged search has %d children, want no controls", len(p.Children))
	}

	p, err = ber.DecodePacketErr(bindRequest(1, "cn=usersync,dc=example,dc=com", "s3cret"))
	if err != nil || p.Children[1].Tag != opBindRequest || p.Children[1].Children[0].Value.(int64) != 3 ||
		p.Children[1].Children[1].Value != "cn=usersync,dc=example,dc=com" || p.Children[1].Children[2].Data.String() != "s3cret" ||
		p.Children[1].Children[2].ClassType != ber.ClassContext {
		t.Errorf("bind request: %v", err)
	}
	p, err = ber.DecodePacketErr(startTLSRequest(2))
	if err != nil || p.Children[1].Tag != opExtendedRequest || p.Children[1].Children[0].Data.String() != oidStartTLS {
		t.Errorf("StartTLS request: %v", err)
	}
	p, err = ber.DecodePacketErr(abandonRequest(3, 300))
	if err != nil || p.Children[1].Tag != opAbandonRequest || p.Children[1].ClassType != ber.ClassApplication {
		t.Errorf("abandon request: %v", err)
	}
	if n, _ := readInt(p.Children[1].Data.Bytes()); n != 300 {
		t.Errorf("abandon request: target %d", n)
	}
	if b := unbindRequest(4); !bytes.Equal(b, []byte{0x30, 0x05, 0x02, 0x01, 0x04, 0x42, 0x00}) {
		t.Errorf("unbind request = %x", b)
	}
}

func TestMsgReader(t *testing.T) {
	big := entryMessage(3, "cn=big", attr{"member", slices.Repeat([]string{strings.Repeat("m", 100)}, 2000)})
	if len(big) <= readBufSize {
		t.Fatalf("the big message has %d bytes, not more than the buffer", len(big))
	}
	msgs := [][]byte{
		entryMessage(1, "cn=a", attr{"cn", []string{"a"}}),
		referenceMessage(1, "ldap://x/"),
		big,
		doneMessage(1, 0, "", nil, []byte{}),
	}
	stream := bytes.Join(msgs, nil)
	for name, r := range map[string]io.Reader{
		"whole":        bytes.NewReader(stream),
		"byte by byte": iotest.OneByteReader(bytes.NewReader(stream)),
		"half":         iotest.HalfReader(bytes.NewReader(stream)),
	} {
		m := &msgReader{r: r}
		for i, want := range msgs {
			got, err := m.next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: message %d: %d bytes, %v; want %d bytes", name, i, len(got), err, len(want))
			}
		}
		if _, err := m.next(); err != io.EOF {
			t.Errorf("%s: at the end: %v, want io.EOF", name, err)
		}
		// The buffer grew for the big message, and not beyond twice it.
		if len(m.buf) > 2*len(big) {
			t.Errorf("%s: buffer of %d bytes for a largest message of %d", name, len(m.buf), len(big))
		}
	}

	// Cut inside a message: unexpected EOF, however it is cut.
	for _, cut := range []int{1, 2, 5, len(msgs[0]) - 1, len(msgs[0]) + 3} {
		m := &msgReader{r: bytes.NewReader(stream[:cut])}
		var err error
		for err == nil {
			_, err = m.next()
		}
		if err != io.ErrUnexpectedEOF {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}

	// What is not LDAP is malformed.
	for name, b := range map[string][]byte{
		"not a sequence":     {0x04, 0x01, 0x00},
		"indefinite length":  {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		"reserved length":    {0x30, 0xff},
		"length of 9 octets": {0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	} {
		m := &msgReader{r: bytes.NewReader(b)}
		if _, err := m.next(); !errors.Is(err, errMalformed) {
			t.Errorf("%s: %v, want a malformed message", name, err)
		}
	}
}

// An oversize length is refused before anything is read or allocated for
// it, and a length under the limit that the bytes never follow costs no
// more than the bytes that came.
func TestMsgReader_LengthsAreNotTrusted(t *testing.T) {
	for name, hdr := range map[string][]byte{
		"2^64-1": {0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"2^63":   {0x30, 0x88, 0x80, 0, 0, 0, 0, 0, 0, 0},
		"1 GiB":  {0x30, 0x84, 0x40, 0, 0, 0},
	} {
		r := bytes.NewReader(append(hdr, 0x02, 0x01, 0x01))
		m := &msgReader{r: r}
		_, err := m.next()
		if !errors.Is(err, errMessageTooLarge) {
			t.Errorf("%s: %v, want too large", name, err)
		}
		if len(m.buf) > readBufSize {
			t.Errorf("%s: %d bytes allocated", name, len(m.buf))
		}
	}

	// 400 MB announced, 1 MB sent.
	sent := append([]byte{0x30, 0x84, 0x18, 0, 0, 0}, make([]byte, 1<<20)...)
	m := &msgReader{r: iotest.HalfReader(bytes.NewReader(sent))}
	if _, err := m.next(); err != io.ErrUnexpectedEOF {
		t.Errorf("a long message cut short: %v, want io.ErrUnexpectedEOF", err)
	}
	if len(m.buf) > 2*len(sent) {
		t.Errorf("%d bytes allocated for %d received", len(m.buf), len(sent))
	}

	// A smaller limit applies as well.
	m = &msgReader{r: bytes.NewReader(entryMessage(1, "cn=x", attr{"cn", []string{strings.Repeat("x", 200)}})), max: 100}
	if _, err := m.next(); !errors.Is(err, errMessageTooLarge) {
		t.Errorf("over max: %v", err)
	}
}

// A buffer grown for one large message is given back once it is empty.
func TestMsgReader_ShrinksAfterALargeMessage(t *testing.T) {
	huge := entryMessage(1, "cn=huge", attr{"member", slices.Repeat([]string{strings.Repeat("m", 1000)}, 3000)})
	small := entryMessage(1, "cn=a", attr{"cn", []string{"a"}})
	m := &msgReader{r: bytes.NewReader(append(append([]byte{}, huge...), small...))}
	if got, err := m.next(); err != nil || len(got) != len(huge) {
		t.Fatalf("huge: %d bytes, %v", len(got), err)
	}
	if len(m.buf) <= shrinkBufSize {
		t.Fatalf("buffer of %d bytes after %d", len(m.buf), len(huge))
	}
	if got, err := m.next(); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("small: %v", err)
	}
	if _, err := m.next(); err != io.EOF {
		t.Fatal(err)
	}
	if len(m.buf) > readBufSize {
		t.Errorf("buffer still %d bytes", len(m.buf))
	}
}

func TestEntryViewMapsLikeGoLDAP(t *testing.T) {
	ad, _ := newSchema(FlavorActiveDirectory, Attributes{})
	b := entryMessage(4, "CN=Anna Berg,OU=People,DC=corp,DC=example",
		attr{"objectGUID", []string{string(guidBytes)}},
		attr{"sAMAccountName", nil},
		attr{"userPrincipalName", []string{"anna.berg@corp.example"}},
		attr{"userAccountControl", []string{" 66050 "}},
		attr{"cn", []string{"Anna Berg"}},
	)
	v := decodeEntry(t, b)
	u, err := ad.user(v)
	want := directory.Entry{Type: directory.TypeUser, ExternalID: guidText, Name: "anna.berg", DisplayName: "Anna Berg",
		Email: "anna.berg@corp.example", DN: "CN=Anna Berg,OU=People,DC=corp,DC=example", Disabled: true}
	if err != nil || u != want {
		t.Errorf("user = %+v, %v\nwant %+v", u, err, want)
	}
	// The same through go-ldap's entry.
	if u2, err := ad.userEntry(v.entry()); err != nil || u2 != want {
		t.Errorf("userEntry = %+v, %v", u2, err)
	}
	// What the mapping keeps is copied out of the read buffer.
	for i := range b {
		b[i] = 'x'
	}
	if u != want {
		t.Errorf("the mapped user changed with the read buffer: %+v", u)
	}

	// A 15-byte GUID is an error row, not a panic or a DN.
	bad := decodeEntry(t, entryMessage(4, "CN=x", attr{"objectGUID", []string{string(guidBytes[:15])}}))
	if u, err := ad.user(bad); err == nil || u.ExternalID != "" || u.DN != "CN=x" {
		t.Errorf("short GUID: %+v, %v", u, err)
	}

	ol, _ := newSchema(FlavorOpenLDAP, Attributes{})
	g := decodeEntry(t, entryMessage(5, "cn=staff,ou=groups,dc=x",
		attr{"cn", []string{"staff"}}, attr{"entryUUID", []string{"u-1"}},
		attr{"member", []string{"uid=a,dc=x", " ", "uid=b,dc=x"}}, attr{"memberUid", []string{"c"}}))
	if got, err := ol.group(g); err != nil || got.MemberCount != 3 || got.Name != "staff" || got.DisplayName != "staff" || got.ExternalID != "u-1" {
		t.Errorf("group = %+v, %v", got, err)
	}
	ranged := decodeEntry(t, entryMessage(5, "cn=big,dc=x", attr{"cn", []string{"big"}}, attr{"member;range=0-1499", []string{"uid=a,dc=x"}}))
	if got, _ := ol.group(ranged); got.MemberCount != -1 {
		t.Errorf("ranged group: MemberCount = %d, want -1", got.MemberCount)
	}
}

// Mapping a user decoded from the wire allocates only the strings it
// keeps: ID, name, display name, email and DN.
func TestEntryViewMappingAllocatesOnlyWhatItKeeps(t *testing.T) {
	ol, _ := newSchema(FlavorOpenLDAP, Attributes{})
	b := entryMessage(4, "uid=u000001,ou=people,dc=example,dc=com",
		attr{"uid", []string{"u000001"}}, attr{"entryUUID", []string{"6f1c3a1e-0000-5000-8000-000000000001"}},
		attr{"displayName", []string{"Ana Alvarez"}}, attr{"cn", []string{"Ana Alvarez u000001"}},
		attr{"mail", []string{"u000001@example.com"}}, attr{"pwdAccountLockedTime", []string{"000001010000Z"}})
	m, err := parseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	v := new(entryView)
	var u directory.Entry
	allocs := testing.AllocsPerRun(100, func() {
		if err := v.decode(m.op.content); err != nil {
			t.Fatal(err)
		}
		u, _ = ol.user(v)
	})
	if allocs > 5 {
		t.Errorf("decoding and mapping a user: %.0f allocations, want at most 5", allocs)
	}
	if !u.Disabled || u.Name != "u000001" {
		t.Errorf("user = %+v", u)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(entryMessage(1, "uid=anna,dc=x", attr{"uid", []string{"anna"}}, attr{"objectGUID", []string{string(guidBytes)}}, attr{"mail", nil}))
	f.Add(entryMessage(2, "", attr{"member;range=0-*", []string{"a", "b"}}))
	f.Add(doneMessage(3, 4, "limit", []string{"ldap://x/"}, []byte("c")))
	f.Add(referenceMessage(4, "ldap://x/dc=y"))
	f.Add([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x7f, 0x81, 0x00})
	ad, _ := newSchema(FlavorActiveDirectory, Attributes{})
	ol, _ := newSchema(FlavorOpenLDAP, Attributes{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Framing: never more buffer than twice what was received.
		m := &msgReader{r: iotest.HalfReader(bytes.NewReader(data)), max: 1 << 20}
		var v entryView
		for {
			raw, err := m.next()
			if len(m.buf) > max(readBufSize, 2*len(data)) {
				t.Fatalf("%d bytes of buffer for %d of input", len(m.buf), len(data))
			}
			if err != nil {
				return
			}
			msg, err := parseMessage(raw)
			if err != nil {
				continue
			}
			r, rerr := parseResult(msg.op.content)
			if rerr == nil {
				_ = r.err()
			}
			_, _, _ = pagingCookie(msg.controls)
			_, _ = firstReference(msg.op.content)
			if err := v.decode(msg.op.content); err != nil {
				continue
			}
			// What decodes, go-asn1-ber reads the same way.
			checkAgainstBER(t, raw, &v)
			_ = v.entry()
			_, _ = ad.user(&v)
			_, _ = ol.group(&v)
		}
	})
}

// checkAgainstBER compares a decoded entry with go-asn1-ber's packet tree
// of the same message, when go-asn1-ber reads it (it is stricter about
// some universal types, and looser about indefinite lengths).
func checkAgainstBER(t *testing.T, raw []byte, v *entryView) {
	p, err := ber.DecodePacketErr(raw)
	if err != nil || len(p.Children) < 2 || len(p.Children[1].Children) < 2 {
		return
	}
	op := p.Children[1]
	if !bytes.Equal(op.Children[0].Data.Bytes(), v.dn) {
		t.Fatalf("DN %q, go-asn1-ber %q", v.dn, op.Children[0].Data.Bytes())
	}
	list := op.Children[1].Children
	if len(list) != len(v.attrs) {
		t.Fatalf("%d attributes, go-asn1-ber %d", len(v.attrs), len(list))
	}
	for i, a := range v.attrs {
		pa := list[i].Children
		if len(pa) == 0 || !bytes.Equal(pa[0].Data.Bytes(), a.desc) {
			t.Fatalf("attribute %d: %q", i, a.desc)
		}
		var vals []*ber.Packet
		if len(pa) > 1 {
			vals = pa[1].Children
		}
		if len(vals) != a.end-a.start {
			t.Fatalf("attribute %q: %d values, go-asn1-ber %d", a.desc, a.end-a.start, len(vals))
		}
		for j, val := range v.values(a) {
			if !bytes.Equal(vals[j].Data.Bytes(), val) {
				t.Fatalf("attribute %q value %d: %q, go-asn1-ber %q", a.desc, j, val, vals[j].Data.Bytes())
			}
		}
	}
}

package ldap

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// DecodeGUID turns Active Directory's 16-byte objectGUID into its canonical
// string form (as AD tools print it, in lower case): the first three fields
// are stored little-endian, the last two big-endian.
func DecodeGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID has %d bytes, want 16", len(b))
	}
	var buf [36]byte
	enc := func(dst []byte, src ...byte) { hex.Encode(dst, src) }
	enc(buf[0:8], b[3], b[2], b[1], b[0])
	buf[8] = '-'
	enc(buf[9:13], b[5], b[4])
	buf[13] = '-'
	enc(buf[14:18], b[7], b[6])
	buf[18] = '-'
	enc(buf[19:23], b[8], b[9])
	buf[23] = '-'
	enc(buf[24:36], b[10:16]...)
	return string(buf[:]), nil
}

// EncodeGUID is the inverse of DecodeGUID: the 16 bytes AD stores for a
// canonical GUID string (with or without braces, any case).
func EncodeGUID(s string) ([]byte, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return nil, fmt.Errorf("%q is not a GUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", s)
	}
	raw, err := hex.DecodeString(t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36])
	if err != nil {
		return nil, fmt.Errorf("%q is not a GUID: %w", s, err)
	}
	return []byte{
		raw[3], raw[2], raw[1], raw[0],
		raw[5], raw[4],
		raw[7], raw[6],
		raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15],
	}, nil
}

// UACDisabled reports whether an Active Directory userAccountControl value
// marks the account disabled (ACCOUNTDISABLE, bit 0x2). AD writes the value
// as a signed decimal; anything unparsable is an error.
func UACDisabled(value string) (bool, error) { return uacDisabled([]byte(value)) }

// uacDisabled is UACDisabled on the value's bytes, as strconv.ParseInt
// reads a base-10 int64 with spaces around it, without allocating.
func uacDisabled(value []byte) (bool, error) {
	t := bytes.TrimSpace(value)
	neg := false
	if len(t) > 0 && (t[0] == '+' || t[0] == '-') {
		neg, t = t[0] == '-', t[1:]
	}
	if len(t) == 0 {
		return false, fmt.Errorf("userAccountControl %q is not a number", value)
	}
	const limit = uint64(1) << 63 // |math.MinInt64|
	var u uint64
	for _, c := range t {
		d := uint64(c - '0')
		if c < '0' || c > '9' || u > (limit-d)/10 {
			return false, fmt.Errorf("userAccountControl %q is not a number", value)
		}
		u = u*10 + d
	}
	if !neg && u == limit {
		return false, fmt.Errorf("userAccountControl %q is not a number", value)
	}
	v := int64(u) // math.MinInt64 when u is the limit, as wanted
	if neg {
		v = -v
	}
	return v&0x2 != 0, nil
}

// escapeBytes writes every byte of b as a filter escape (\hh): how a binary
// value such as an objectGUID goes into an LDAP filter.
func escapeBytes(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) * 3)
	for _, c := range b {
		sb.WriteByte('\\')
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

// idFilterValue is the filter-escaped assertion value for external ID id.
func (s *schema) idFilterValue(id string) (string, error) {
	if s.idKind == idGUID {
		b, err := EncodeGUID(id)
		if err != nil {
			return "", err
		}
		return escapeBytes(b), nil
	}
	if strings.TrimSpace(id) == "" {
		return "", fmt.Errorf("empty external ID")
	}
	return goldap.EscapeFilter(id), nil
}

// The flavor's mapping reads an entry through an entryView, whether the
// bulk connection decoded it in place or go-ldap read it, and copies only
// the strings it keeps.

// entryView is an entry's DN and attributes as bytes: views into the bulk
// connection's read buffer, valid only until the next message is read
// (entryView.decode), or copies of a go-ldap entry (viewOf).
type entryView struct {
	dn    []byte
	attrs []viewAttr
	// vals are the values of every attribute, in order.
	vals [][]byte
}

// viewAttr is one attribute of an entryView: its description and where
// its values are in vals.
type viewAttr struct {
	desc       []byte
	start, end int
}

// values are the values of a.
func (v *entryView) values(a viewAttr) [][]byte { return v.vals[a.start:a.end:a.end] }

// first is the first value of the first attribute described as name
// (ignoring case), nil when there is none: go-ldap's
// GetEqualFoldRawAttributeValue.
func (v *entryView) first(name string) []byte {
	for _, a := range v.attrs {
		if equalFold(a.desc, name) {
			if a.end > a.start {
				return v.vals[a.start]
			}
			return nil
		}
	}
	return nil
}

// equalFold is strings.EqualFold(string(b), s) without converting b:
// attribute descriptions are ASCII (RFC 4512), anything else is compared
// the slow way.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return !isASCII(b) && strings.EqualFold(string(b), s)
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
			return strings.EqualFold(string(b), s)
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// viewOf is a view of a go-ldap entry. Values come from ByteValues, or
// from Values where an entry built by hand has no ByteValues.
func viewOf(e *goldap.Entry) *entryView {
	n := 0
	for _, a := range e.Attributes {
		n += max(len(a.ByteValues), len(a.Values))
	}
	v := &entryView{dn: []byte(e.DN), attrs: make([]viewAttr, 0, len(e.Attributes)), vals: make([][]byte, 0, n)}
	for _, a := range e.Attributes {
		start := len(v.vals)
		if len(a.ByteValues) > 0 || len(a.Values) == 0 {
			v.vals = append(v.vals, a.ByteValues...)
		} else {
			for _, s := range a.Values {
				v.vals = append(v.vals, []byte(s))
			}
		}
		v.attrs = append(v.attrs, viewAttr{desc: []byte(a.Name), start: start, end: len(v.vals)})
	}
	return v
}

// entry copies the view into a go-ldap entry, for the code that keeps
// entries or reads them with go-ldap's accessors: the same DN, attribute
// names, Values and ByteValues as go-ldap would have decoded, in seven
// allocations whatever the number of attributes and values.
func (v *entryView) entry() *goldap.Entry {
	size, valSize := len(v.dn), 0
	for _, a := range v.attrs {
		size += len(a.desc)
	}
	for _, val := range v.vals {
		valSize += len(val)
	}
	var sb strings.Builder
	sb.Grow(size + valSize)
	sb.Write(v.dn)
	for _, a := range v.attrs {
		sb.Write(a.desc)
	}
	raw := make([]byte, 0, valSize)
	for _, val := range v.vals {
		sb.Write(val)
		raw = append(raw, val...)
	}
	text := sb.String()

	e := &goldap.Entry{DN: text[:len(v.dn)], Attributes: make([]*goldap.EntryAttribute, len(v.attrs))}
	attrs := make([]goldap.EntryAttribute, len(v.attrs))
	off := len(v.dn)
	for i, a := range v.attrs {
		attrs[i].Name = text[off : off+len(a.desc)]
		off += len(a.desc)
	}
	strs := make([]string, len(v.vals))
	byteVals := make([][]byte, len(v.vals))
	roff := 0
	for i, val := range v.vals {
		strs[i] = text[off : off+len(val)]
		byteVals[i] = raw[roff : roff+len(val) : roff+len(val)]
		off += len(val)
		roff += len(val)
	}
	for i, a := range v.attrs {
		attrs[i].Values = strs[a.start:a.end:a.end]
		attrs[i].ByteValues = byteVals[a.start:a.end:a.end]
		e.Attributes[i] = &attrs[i]
	}
	return e
}

// externalIDOf reads the immutable ID of e (see idOf).
func (s *schema) externalIDOf(e *goldap.Entry) (string, error) { return s.idOf(viewOf(e)) }

// userEntry maps a go-ldap entry to a directory user (see user).
func (s *schema) userEntry(e *goldap.Entry) (directory.Entry, error) { return s.user(viewOf(e)) }

// groupEntry maps a go-ldap entry to a directory group (see group).
func (s *schema) groupEntry(e *goldap.Entry) (directory.Entry, error) { return s.group(viewOf(e)) }

// idOf reads the immutable ID of v; "" when the entry lacks it or it
// cannot be decoded (the entry is then an error row, never keyed by DN).
func (s *schema) idOf(v *entryView) (string, error) {
	raw := v.first(s.externalID)
	if len(raw) == 0 {
		return "", fmt.Errorf("entry %s has no %s", v.dn, s.externalID)
	}
	if s.idKind == idGUID {
		id, err := DecodeGUID(raw)
		if err != nil {
			return "", fmt.Errorf("entry %s: %w", v.dn, err)
		}
		return id, nil
	}
	return string(raw), nil
}

// disabledOf reads the flavor's disabled marker of v.
func (s *schema) disabledOf(v *entryView) bool {
	if s.disabled == "" {
		return false
	}
	val := v.first(s.disabled)
	if len(val) == 0 {
		return false
	}
	switch s.disabledAs {
	case disabledUAC:
		d, err := uacDisabled(val)
		// An unreadable value is not evidence of a disabled account.
		return err == nil && d
	case disabledPwdLock:
		return string(val) == "000001010000Z"
	case disabledBool:
		return equalFold(bytes.TrimSpace(val), "TRUE")
	}
	return false
}

// user maps an LDAP entry to a directory user. An entry without its
// external ID comes back with ExternalID "" and err set: an error row for
// the caller to report, never an entry keyed by its DN. The strings are
// copied out of v.
func (s *schema) user(v *entryView) (directory.Entry, error) {
	id, err := s.idOf(v)
	out := directory.Entry{
		Type:        directory.TypeUser,
		ExternalID:  id,
		Name:        string(v.first(s.username)),
		DisplayName: string(v.first(s.displayName)),
		Email:       string(v.first(s.email)),
		DN:          string(v.dn),
		Disabled:    s.disabledOf(v),
	}
	if s.upn != "" {
		if upn := v.first(s.upn); len(upn) > 0 {
			if out.Name == "" {
				name, _, _ := bytes.Cut(upn, []byte("@"))
				out.Name = string(name)
			}
			if out.Email == "" {
				out.Email = string(upn)
			}
		}
	}
	if out.DisplayName == "" {
		out.DisplayName = string(v.first(s.cn))
	}
	return out, err
}

// group maps an LDAP entry to a directory group; MemberCount is the
// number of member values the entry carries, or -1 when the server sent
// only a range of them.
func (s *schema) group(v *entryView) (directory.Entry, error) {
	id, err := s.idOf(v)
	out := directory.Entry{
		Type:        directory.TypeGroup,
		ExternalID:  id,
		Name:        string(v.first(s.groupName)),
		DisplayName: string(v.first(s.displayName)),
		DN:          string(v.dn),
		MemberCount: s.memberCount(v),
	}
	if out.DisplayName == "" {
		out.DisplayName = out.Name
	}
	return out, err
}

// memberCount counts the member values of a group entry as returned by a
// search that asked for the plain member attributes: -1 when the server
// answered with a range (AD, over 1500 members), so the count is unknown.
func (s *schema) memberCount(v *entryView) int {
	n := 0
	for _, a := range v.attrs {
		name := a.desc
		if i := bytes.IndexByte(name, ';'); i >= 0 {
			name = name[:i]
		}
		if !s.isMemberAttr(name) && (s.memberUID == "" || !equalFold(name, s.memberUID)) {
			continue
		}
		if _, r, ranged, ok := splitAttr(string(a.desc)); ranged && (!ok || r.Start != 0 || !r.last()) {
			return -1
		}
		for _, val := range v.values(a) {
			if len(bytes.TrimSpace(val)) > 0 {
				n++
			}
		}
	}
	return n
}

func (s *schema) isMemberAttr(name []byte) bool {
	for _, m := range s.memberAttrs {
		if equalFold(name, m) {
			return true
		}
	}
	return false
}

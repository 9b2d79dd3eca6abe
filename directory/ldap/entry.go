package ldap

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

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
func UACDisabled(value string) (bool, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return false, fmt.Errorf("userAccountControl %q is not a number", value)
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

// externalID reads the immutable ID of e; "" when the entry lacks it or it
// cannot be decoded (the entry is then an error row, never keyed by DN).
func (s *schema) externalIDOf(e *goldap.Entry) (string, error) {
	if s.idKind == idGUID {
		raw := e.GetEqualFoldRawAttributeValue(s.externalID)
		if len(raw) == 0 {
			return "", fmt.Errorf("entry %s has no %s", e.DN, s.externalID)
		}
		id, err := DecodeGUID(raw)
		if err != nil {
			return "", fmt.Errorf("entry %s: %w", e.DN, err)
		}
		return id, nil
	}
	id := e.GetEqualFoldAttributeValue(s.externalID)
	if id == "" {
		return "", fmt.Errorf("entry %s has no %s", e.DN, s.externalID)
	}
	return id, nil
}

// isDisabled reads the flavor's disabled marker of e.
func (s *schema) isDisabled(e *goldap.Entry) bool {
	if s.disabled == "" {
		return false
	}
	v := e.GetEqualFoldAttributeValue(s.disabled)
	if v == "" {
		return false
	}
	switch s.disabledAs {
	case disabledUAC:
		d, err := UACDisabled(v)
		// An unreadable value is not evidence of a disabled account.
		return err == nil && d
	case disabledPwdLock:
		return v == "000001010000Z"
	case disabledBool:
		return strings.EqualFold(strings.TrimSpace(v), "TRUE")
	}
	return false
}

// userEntry maps an LDAP entry to a directory user. An entry without its
// external ID comes back with ExternalID "" and err set: an error row for
// the caller to report, never an entry keyed by its DN.
func (s *schema) userEntry(e *goldap.Entry) (directory.Entry, error) {
	id, err := s.externalIDOf(e)
	out := directory.Entry{
		Type:        directory.TypeUser,
		ExternalID:  id,
		Name:        e.GetEqualFoldAttributeValue(s.username),
		DisplayName: e.GetEqualFoldAttributeValue(s.displayName),
		Email:       e.GetEqualFoldAttributeValue(s.email),
		DN:          e.DN,
		Disabled:    s.isDisabled(e),
	}
	if s.upn != "" {
		upn := e.GetEqualFoldAttributeValue(s.upn)
		if out.Name == "" && upn != "" {
			out.Name, _, _ = strings.Cut(upn, "@")
		}
		if out.Email == "" {
			out.Email = upn
		}
	}
	if out.DisplayName == "" {
		out.DisplayName = e.GetEqualFoldAttributeValue(s.cn)
	}
	return out, err
}

// groupEntry maps an LDAP entry to a directory group; MemberCount is the
// number of member values the entry carries, or -1 when the server sent
// only a range of them.
func (s *schema) groupEntry(e *goldap.Entry) (directory.Entry, error) {
	id, err := s.externalIDOf(e)
	out := directory.Entry{
		Type:        directory.TypeGroup,
		ExternalID:  id,
		Name:        e.GetEqualFoldAttributeValue(s.groupName),
		DisplayName: e.GetEqualFoldAttributeValue(s.displayName),
		DN:          e.DN,
		MemberCount: s.memberCount(e),
	}
	if out.DisplayName == "" {
		out.DisplayName = out.Name
	}
	return out, err
}

// memberCount counts the member values of a group entry as returned by a
// search that asked for the plain member attributes: -1 when the server
// answered with a range (AD, over 1500 members), so the count is unknown.
func (s *schema) memberCount(e *goldap.Entry) int {
	n := 0
	for _, a := range e.Attributes {
		name, r, ranged, ok := splitAttr(a.Name)
		if !s.isMemberAttr(name) && (s.memberUID == "" || !strings.EqualFold(name, s.memberUID)) {
			continue
		}
		if ranged && (!ok || r.Start != 0 || !r.last()) {
			return -1
		}
		for _, v := range a.Values {
			if strings.TrimSpace(v) != "" {
				n++
			}
		}
	}
	return n
}

func (s *schema) isMemberAttr(name string) bool {
	for _, m := range s.memberAttrs {
		if strings.EqualFold(m, name) {
			return true
		}
	}
	return false
}

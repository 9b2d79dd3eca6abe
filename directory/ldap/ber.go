package ldap

import (
	"errors"
	"fmt"
)

// The little of BER (X.690) that LDAP messages use, read in place: an
// element is split off the bytes it starts without copying them, so that a
// message is decoded without building a tree of packets. Only the definite
// length form is accepted, as RFC 4511 (section 5.1) requires of LDAP.

// BER identifier classes (the top two bits of the identifier octet).
const (
	classUniversal   = 0x00
	classApplication = 0x40
	classContext     = 0x80
)

// Universal tag numbers the decoder checks.
const (
	tagBoolean  = 1
	tagInteger  = 2
	tagSequence = 16
)

// errTruncated is an element longer than the bytes that hold it.
var errTruncated = errors.New("truncated BER element")

// element is one BER element, its contents a view into the bytes it was
// read from.
type element struct {
	class       byte // classUniversal, classApplication, classContext or 0xc0 (private)
	constructed bool
	tag         uint32
	content     []byte
}

// maxTagBytes bounds the high-tag-number form: 4 octets of 7 bits.
const maxTagBytes = 4

// readElement splits the element at the start of b from the bytes after
// it. It never reads past b, and a length larger than what b holds is
// errTruncated.
func readElement(b []byte) (element, []byte, error) {
	var e element
	if len(b) < 2 {
		return e, nil, errTruncated
	}
	id := b[0]
	e.class = id & 0xc0
	e.constructed = id&0x20 != 0
	e.tag = uint32(id & 0x1f)
	i := 1
	if e.tag == 0x1f {
		// High-tag-number form: base 128, the top bit set on all but the
		// last octet.
		e.tag = 0
		for n := 0; ; n++ {
			if i >= len(b) {
				return e, nil, errTruncated
			}
			if n == maxTagBytes {
				return e, nil, fmt.Errorf("BER tag longer than %d octets", maxTagBytes)
			}
			c := b[i]
			i++
			e.tag = e.tag<<7 | uint32(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	n, size, err := readLength(b[i:])
	if err != nil {
		return e, nil, err
	}
	i += size
	if uint64(len(b)-i) < n {
		return e, nil, errTruncated
	}
	end := i + int(n)
	e.content = b[i:end:end]
	return e, b[end:], nil
}

// readLength reads a definite length at the start of b: the length and the
// number of octets it took.
func readLength(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errTruncated
	}
	first := b[0]
	switch {
	case first < 0x80:
		return uint64(first), 1, nil
	case first == 0x80:
		return 0, 0, errors.New("BER indefinite length (not allowed in LDAP)")
	case first == 0xff:
		return 0, 0, errors.New("BER length octet 0xff is reserved")
	}
	k := int(first & 0x7f)
	if k > 8 {
		return 0, 0, fmt.Errorf("BER length of %d octets", k)
	}
	if len(b) < 1+k {
		return 0, 0, errTruncated
	}
	var n uint64
	for _, c := range b[1 : 1+k] {
		n = n<<8 | uint64(c)
	}
	return n, 1 + k, nil
}

// is reports whether e has the given class, form and tag number.
func (e element) is(class byte, constructed bool, tag uint32) bool {
	return e.class == class && e.constructed == constructed && e.tag == tag
}

// readInt reads the contents of an INTEGER or ENUMERATED: two's
// complement, big-endian, at most 8 octets.
func readInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("BER integer of %d octets", len(b))
	}
	v := int64(int8(b[0])) // the sign
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// Encoding: requests are small and few (one per page), so they are built
// by appending, the contents of a constructed element first.

// appendElement appends an element with identifier id (class, constructed
// bit and a tag number below 31) and contents content.
func appendElement(dst []byte, id byte, content []byte) []byte {
	dst = append(dst, id)
	dst = appendLength(dst, len(content))
	return append(dst, content...)
}

// appendString is appendElement for string contents.
func appendString(dst []byte, id byte, s string) []byte {
	dst = append(dst, id)
	dst = appendLength(dst, len(s))
	return append(dst, s...)
}

func appendLength(dst []byte, n int) []byte {
	if n < 0x80 {
		return append(dst, byte(n))
	}
	k := 0
	for v := n; v > 0; v >>= 8 {
		k++
	}
	dst = append(dst, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

// appendInt appends an INTEGER or ENUMERATED (by id) holding v, in the
// fewest octets.
func appendInt(dst []byte, id byte, v int64) []byte {
	k := 1
	for k < 8 && (v>>(8*k-1) != 0 && v>>(8*k-1) != -1) {
		k++
	}
	dst = append(dst, id, byte(k))
	for i := k - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

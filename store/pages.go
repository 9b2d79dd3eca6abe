package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"runtime/debug"
	"slices"
)

// This file reads bbolt's file format (version 2, unchanged since bbolt
// forked from Bolt) without bbolt, to check that a file's page structure
// is sound before bbolt is let near it. bbolt trusts its pages: a damaged
// page makes it panic, fault, read garbage, or — a branch page pointing
// back at an ancestor — descend forever. checkPages reads the file through
// bounds-checked slices and reports what is wrong instead.
//
// A page is a 16-byte header (id u64, flags u16, count u16, overflow u32)
// followed by elements: 16 bytes per branch element (pos u32, ksize u32,
// child page id u64) or leaf element (flags u32, pos u32, ksize u32,
// vsize u32), each pos counted from the element itself. Integers are in the
// machine's byte order. Pages 0 and 1 are meta pages; the meta with the
// highest transaction id whose checksum holds is the current one.

const (
	pageHeaderSize = 16
	elementSize    = 16
	bucketHeader   = 16 // a bucket value: root page id u64, sequence u64

	branchPage   = 0x01
	leafPage     = 0x02
	metaPage     = 0x04
	freelistPage = 0x10

	bucketElement = 0x01 // a leaf element whose value is a bucket

	// noFreelist is the meta's freelist page id when the freelist is not
	// written to the file.
	noFreelist = ^uint64(0)

	// boltMagic and boltVersion mark a bbolt meta page.
	boltMagic   = 0xED0CDAED
	boltVersion = 2

	// maxTreeDepth bounds the depth of a bucket's tree: bbolt's trees are a
	// few levels deep; a deeper one is a damaged one.
	maxTreeDepth = 32
)

var ne = binary.NativeEndian

// boltMeta is the part of a bbolt meta page the checks need.
type boltMeta struct {
	pageSize uint64
	root     uint64 // page id of the root bucket
	freelist uint64 // page id of the freelist, or noFreelist
	pgid     uint64 // high-water mark: pages [0, pgid) are in use or free
	txid     uint64
}

// metaStatus is what one meta page holds.
type metaStatus int

const (
	metaNone     metaStatus = iota // no bbolt marker
	metaOtherVer                   // a bbolt marker, another file version
	metaBadSum                     // a bbolt marker, a checksum that does not hold
	metaValid
)

// parseMeta reads the meta page in b (at least 80 bytes from its start).
func parseMeta(b []byte) (boltMeta, metaStatus) {
	if len(b) < 80 || ne.Uint32(b[16:]) != boltMagic {
		return boltMeta{}, metaNone
	}
	if ne.Uint32(b[20:]) != boltVersion {
		return boltMeta{}, metaOtherVer
	}
	h := fnv.New64a()
	h.Write(b[16:72])
	if h.Sum64() != ne.Uint64(b[72:]) {
		return boltMeta{}, metaBadSum
	}
	return boltMeta{
		pageSize: uint64(ne.Uint32(b[24:])),
		root:     ne.Uint64(b[32:]),
		freelist: ne.Uint64(b[48:]),
		pgid:     ne.Uint64(b[56:]),
		txid:     ne.Uint64(b[64:]),
	}, metaValid
}

// readMeta finds the current meta page of the bbolt file f, of the given
// size, as bbolt does, and checks that the file holds every page it
// names. A file without a bbolt meta page is ErrNotStore; one whose meta
// pages are both damaged, or that is shorter than its pages, is ErrCorrupt.
func readMeta(f *os.File, size int64, path string) (boltMeta, error) {
	read := func(off int64) (boltMeta, metaStatus) {
		buf := make([]byte, 80)
		if n, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
			return boltMeta{}, metaNone
		}
		return parseMeta(buf)
	}
	m0, s0 := read(0)
	ps := m0.pageSize
	s1 := metaNone
	var m1 boltMeta
	if s0 == metaValid {
		if ps >= 512 && ps <= 1<<20 && ps&(ps-1) == 0 {
			m1, s1 = read(int64(ps))
		}
	} else {
		// Meta 0 is unreadable: find meta 1 where bbolt looks for it.
		for i := 0; i <= 14 && s1 != metaValid; i++ {
			if off := int64(1024) << i; off < size {
				if m, s := read(off); s > s1 {
					m1, s1 = m, s
					ps = uint64(off)
				}
			}
		}
	}
	var m boltMeta
	switch {
	case s0 == metaValid && s1 == metaValid:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case s0 == metaValid:
		m = m0
	case s1 == metaValid:
		m = m1
	case s0 == metaBadSum || s1 == metaBadSum:
		return boltMeta{}, damaged(path, "", "both of its meta pages fail their checksum")
	case s0 == metaOtherVer || s1 == metaOtherVer:
		return boltMeta{}, newError(ErrNotStore, nil, "%s is not a usersync store (a bbolt file of another format version)", path)
	default:
		return boltMeta{}, newError(ErrNotStore, nil, "%s is not a usersync store", path)
	}
	if m.pageSize != ps || ps < 512 || ps > 1<<20 || ps&(ps-1) != 0 {
		return boltMeta{}, damaged(path, "", fmt.Sprintf("its meta page gives a page size of %d", m.pageSize))
	}
	if m.pgid < 4 || m.root < 2 || m.root >= m.pgid || (m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid)) {
		return boltMeta{}, damaged(path, "", "its meta page names pages outside the file")
	}
	if need := m.pgid * m.pageSize; m.pgid > uint64(size)/m.pageSize {
		return boltMeta{}, damaged(path, "", fmt.Sprintf("the file is truncated (%d bytes; its last transaction wrote %d)", size, need))
	}
	return m, nil
}

// pageCheck walks the pages of one bbolt file.
type pageCheck struct {
	data     []byte // pages [0, hwm), each pageSize bytes
	ps       uint64
	hwm      uint64
	state    []uint8 // per page: reached and/or free
	problems []string
	more     int // problems beyond maxProblems

	elems []pageElem // the elements of the page being read
	end   uint64     // where their data ends in the page body
}

const (
	pageReached = 1 << iota
	pageFree
)

func (c *pageCheck) bad(format string, args ...any) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	} else {
		c.more++
	}
}

// checkPages verifies the page structure of the bbolt file f as meta m
// describes it: every page reachable from the root bucket or the freelist
// is inside the file, reached once, of the right type, with its elements,
// keys and values inside the page and its keys in order, and every other
// page below the high-water mark is free. It is bbolt's tx.Check, done
// without trusting the pages, and it never panics: a file that changes or
// shrinks while it is read is reported as a problem. It returns the
// problems found, at most maxProblems of them and a count of the rest.
func checkPages(f *os.File, m boltMeta) (problems []string) {
	if m.pgid > uint64(math.MaxInt)/m.pageSize {
		return []string{fmt.Sprintf("the file's %d pages are more than this system can map", m.pgid)}
	}
	data, unmap, err := mapFile(f, int(m.pgid*m.pageSize))
	if err != nil {
		return []string{fmt.Sprintf("reading the file: %v", err)}
	}
	defer unmap()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			problems = append(problems, fmt.Sprintf("the file changed while it was read (%v)", r))
		}
	}()
	c := &pageCheck{data: data, ps: m.pageSize, hwm: m.pgid, state: make([]uint8, m.pgid)}
	c.state[0], c.state[1] = pageReached, pageReached
	if m.freelist != noFreelist {
		c.freelist(m.freelist)
	}
	c.tree(m.root, nil, nil, 0, "root bucket")
	if m.freelist != noFreelist {
		var lost []uint64
		n := 0
		for id := uint64(2); id < c.hwm; id++ {
			if c.state[id] == 0 {
				if n++; len(lost) < 5 {
					lost = append(lost, id)
				}
			}
		}
		if n > 0 {
			c.bad("%d pages are neither reachable nor free (pages %v…): a branch or bucket that pointed at them is damaged, and what they held is lost", n, lost)
		}
	}
	if c.more > 0 {
		c.problems = append(c.problems, fmt.Sprintf("and %d more page problems", c.more))
	}
	return c.problems
}

// page marks page id (and its overflow pages) reached from where and
// returns its bytes, or nil when it cannot be read or was reached before.
func (c *pageCheck) page(id uint64, where string) []byte {
	if id < 2 || id >= c.hwm {
		c.bad("%s points at page %d, outside the file's %d pages", where, id, c.hwm)
		return nil
	}
	off := id * c.ps
	h := c.data[off : off+pageHeaderSize]
	if got := ne.Uint64(h); got != id {
		c.bad("page %d (from %s) is marked as page %d", id, where, got)
		return nil
	}
	overflow := uint64(ne.Uint32(h[12:]))
	if overflow >= c.hwm-id {
		c.bad("page %d (from %s) runs past the end of the file (%d overflow pages)", id, where, overflow)
		return nil
	}
	for i := id; i <= id+overflow; i++ {
		if c.state[i]&pageReached != 0 {
			c.bad("page %d is reached twice (again from %s)", i, where)
			return nil
		}
	}
	for i := id; i <= id+overflow; i++ {
		if c.state[i]&pageFree != 0 {
			c.bad("page %d (from %s) is in use and also listed as free", i, where)
		}
		c.state[i] |= pageReached
	}
	return c.data[off : off+(overflow+1)*c.ps]
}

// freelist reads the freelist page and marks the pages it lists free.
func (c *pageCheck) freelist(id uint64) {
	p := c.page(id, "the meta page's freelist")
	if p == nil {
		return
	}
	if f := ne.Uint16(p[8:]); f != freelistPage {
		c.bad("freelist page %d has page type %#x", id, f)
		return
	}
	ids := p[pageHeaderSize:]
	n := uint64(ne.Uint16(p[10:]))
	if n == 0xFFFF { // the real count is the first element
		if len(ids) < 8 {
			c.bad("freelist page %d is too short", id)
			return
		}
		n, ids = ne.Uint64(ids), ids[8:]
	}
	if n > uint64(len(ids))/8 {
		c.bad("freelist page %d lists %d pages, more than it can hold", id, n)
		return
	}
	for i := uint64(0); i < n; i++ {
		free := ne.Uint64(ids[i*8:])
		switch {
		case free < 2 || free >= c.hwm:
			c.bad("the freelist lists page %d, outside the file's %d pages", free, c.hwm)
		case c.state[free]&pageFree != 0:
			c.bad("the freelist lists page %d twice", free)
		case c.state[free]&pageReached != 0:
			c.bad("page %d is in use and also listed as free", free)
		default:
			c.state[free] |= pageFree
		}
	}
}

// pageElem is one element of a page.
type pageElem struct {
	flags      uint32 // leaf elements: bucketElement or 0
	key, value []byte
	child      uint64 // branch elements: the child page
}

// elements parses the count elements of a page body (the page after its
// header) into c.elems. It checks that each lies inside the page; that
// their keys and values are packed one after the other from the end of the
// element array, as bbolt writes every page, so that a count or a position
// that changed shows as a gap or an overlap; and that the keys are not
// empty and strictly increase. It returns what is wrong, or "".
func (c *pageCheck) elements(body []byte, count int, branch bool) string {
	c.elems = c.elems[:0]
	next := uint64(count) * elementSize
	if next > uint64(len(body)) {
		return fmt.Sprintf("its %d elements do not fit in the page", count)
	}
	for i := range count {
		e := body[i*elementSize:]
		var el pageElem
		var pos, ksize, vsize uint64
		if branch {
			pos, ksize, el.child = uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:])), ne.Uint64(e[8:])
		} else {
			el.flags = ne.Uint32(e)
			pos, ksize, vsize = uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		}
		start := uint64(i*elementSize) + pos
		switch {
		case start != next:
			return fmt.Sprintf("element %d's key starts at byte %d, not at %d where the one before ended", i, start, next)
		case ksize == 0:
			return fmt.Sprintf("element %d has an empty key", i)
		case start+ksize+vsize > uint64(len(body)):
			return fmt.Sprintf("element %d lies outside the page", i)
		}
		next = start + ksize + vsize
		el.key = body[start : start+ksize : start+ksize]
		el.value = body[start+ksize : next : next]
		if i > 0 && bytes.Compare(el.key, c.elems[i-1].key) <= 0 {
			return fmt.Sprintf("key %d (%x) is out of order", i, el.key)
		}
		c.elems = append(c.elems, el)
	}
	c.end = next
	return ""
}

// inRange reports whether the keys of c.elems lie within [lo, hi) of the
// parent; nil bounds are open.
func (c *pageCheck) inRange(lo, hi []byte) bool {
	if len(c.elems) == 0 {
		return true
	}
	return (lo == nil || bytes.Compare(c.elems[0].key, lo) >= 0) &&
		(hi == nil || bytes.Compare(c.elems[len(c.elems)-1].key, hi) < 0)
}

// tree checks the subtree rooted at page id, whose keys must lie in
// [lo, hi).
func (c *pageCheck) tree(id uint64, lo, hi []byte, depth int, where string) {
	if depth > maxTreeDepth {
		c.bad("%s: the tree is more than %d levels deep at page %d", where, maxTreeDepth, id)
		return
	}
	p := c.page(id, where)
	if p == nil {
		return
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	body := p[pageHeaderSize:]
	switch flags {
	case branchPage:
		if count == 0 {
			c.bad("branch page %d (%s) is empty", id, where)
			return
		}
		if problem := c.elements(body, count, true); problem != "" {
			c.bad("branch page %d (%s): %s", id, where, problem)
			return
		}
		if !c.inRange(lo, hi) {
			c.bad("branch page %d (%s): its keys lie outside the range its parent gives it", id, where)
			return
		}
		children := slices.Clone(c.elems)
		for i, el := range children {
			next := hi
			if i+1 < len(children) {
				next = children[i+1].key
			}
			c.tree(el.child, el.key, next, depth+1, where)
		}
	case leafPage:
		what := fmt.Sprintf("leaf page %d (%s)", id, where)
		if problem := c.elements(body, count, false); problem != "" {
			c.bad("%s: %s", what, problem)
			return
		}
		if !c.inRange(lo, hi) {
			c.bad("%s: its keys lie outside the range its parent gives it", what)
			return
		}
		var buckets []pageElem
		for i, el := range c.elems {
			switch el.flags {
			case 0:
			case bucketElement:
				buckets = append(buckets, el)
			default:
				c.bad("%s: element %d has unknown flags %#x", what, i, el.flags)
			}
		}
		for _, el := range buckets {
			c.bucket(el.key, el.value, depth, what)
		}
	default:
		c.bad("page %d (%s) is neither a branch nor a leaf page (type %#x)", id, where, flags)
	}
}

// bucket checks the bucket stored as value under key.
func (c *pageCheck) bucket(key, value []byte, depth int, what string) {
	name := fmt.Sprintf("bucket %q", key)
	if len(value) < bucketHeader {
		c.bad("%s: %s has a %d-byte header", what, name, len(value))
		return
	}
	root := ne.Uint64(value)
	if root != 0 {
		if len(value) != bucketHeader {
			c.bad("%s: %s has a root page and an inline page", what, name)
			return
		}
		c.tree(root, nil, nil, depth+1, name)
		return
	}
	// An inline bucket: a leaf page inside the value, which holds no
	// buckets of its own and ends where its last value ends.
	p := value[bucketHeader:]
	if len(p) < pageHeaderSize {
		c.bad("%s: inline %s is too short", what, name)
		return
	}
	if f := ne.Uint16(p[8:]); f != leafPage {
		c.bad("%s: inline %s has page type %#x", what, name, f)
		return
	}
	body := p[pageHeaderSize:]
	if problem := c.elements(body, int(ne.Uint16(p[10:])), false); problem != "" {
		c.bad("%s: inline %s: %s", what, name, problem)
		return
	}
	if c.end != uint64(len(body)) {
		c.bad("%s: inline %s ends at byte %d of %d", what, name, c.end, len(body))
	}
	for i, el := range c.elems {
		if el.flags != 0 {
			c.bad("%s: inline %s: element %d has flags %#x", what, name, i, el.flags)
		}
	}
}

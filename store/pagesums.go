package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime/debug"
	"slices"
)

// The check before a Store's first write reads the whole file: every
// page, every value's seal, every count (about 0.15 s for 100k users,
// most of an incremental sync). Page sums make it cheap without making it
// weaker. Once a state of the file is known sound — it passed that check,
// or this package's writer made it from such a state — the CRC-32 of each
// of its pages is kept in a file beside the store (path + ".sums"). The
// next Store to open the file compares every page in use with those sums:
// a file that matches is byte for byte that sound state, so Open need not
// walk its pages (checkPages) and the first write need not check them
// again (the comparison is repeated before the first write, as the check
// was). Any difference — a flipped bit, a truncation, a page written by
// another program, a write killed half-way, sums left by an older state —
// and the full checks run as before. Wrong or missing sums therefore cost
// time, never safety; the sums never say that a store is damaged.
//
// Free pages are not compared: bbolt never reads them, so their bytes do
// not matter (checkPages too checks only that they are listed). Which
// pages are free comes from the freelist page, whose own sum is compared
// first. After each write transaction the sums of the pages it can have
// written are taken again (a bbolt transaction writes only pages free in
// the state before it, pages past its end, and the meta pages) and the
// file beside the store is replaced.
//
// The sums are CRC-32 (IEEE), computed with carry-less multiplication:
// about 13 GB/s here, twice CRC-32C (the values' seals); like the seals,
// it finds every error of up to 3 bits in a page.

// sumsMagic starts a page sums file.
const sumsMagic = "usersync page sums 1\n"

var sumsTable = crc32.IEEETable

// pageSums are the sums of the pages of one state of a store file.
type pageSums struct {
	pageSize uint64
	txid     uint64   // the state's transaction
	sums     []uint32 // CRC-32 of pages [0, pgid)
	free     []uint64 // the pages free in this state
}

// sumsPath is where the page sums of the store at path are kept.
func sumsPath(path string) string { return path + ".sums" }

// loadSums reads the page sums kept for the store at path: nil when there
// are none or they are not whole.
func loadSums(path string) *pageSums {
	b, err := os.ReadFile(sumsPath(path))
	head := len(sumsMagic) + 24
	if err != nil || len(b) < head+4 || !bytes.HasPrefix(b, []byte(sumsMagic)) {
		return nil
	}
	le := binary.LittleEndian
	body, sum := b[:len(b)-4], le.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil
	}
	p := &pageSums{pageSize: le.Uint64(b[len(sumsMagic):]), txid: le.Uint64(b[len(sumsMagic)+8:])}
	n := le.Uint64(b[len(sumsMagic)+16:])
	if n != uint64(len(body)-head)/4 || uint64(len(body)-head)%4 != 0 {
		return nil
	}
	p.sums = make([]uint32, n)
	for i := range p.sums {
		p.sums[i] = le.Uint32(body[head+4*i:])
	}
	return p
}

// save replaces the page sums kept for the store at path. Only the
// process holding the store to write calls it.
func (p *pageSums) save(path string) error {
	le := binary.LittleEndian
	b := make([]byte, 0, len(sumsMagic)+24+4*len(p.sums)+4)
	b = append(b, sumsMagic...)
	b = le.AppendUint64(b, p.pageSize)
	b = le.AppendUint64(b, p.txid)
	b = le.AppendUint64(b, uint64(len(p.sums)))
	for _, s := range p.sums {
		b = le.AppendUint32(b, s)
	}
	b = le.AppendUint32(b, crc32.Checksum(b, castagnoli))
	tmp := sumsPath(path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, sumsPath(path))
}

// forgetSums removes the page sums kept for the store at path.
func forgetSums(path string) { os.Remove(sumsPath(path)) }

// freePages parses the freelist page at the start of p (with its
// overflow pages): the ids it lists, or false when it is not a freelist
// page that fits.
func freePages(p []byte) ([]uint64, bool) {
	if len(p) < pageHeaderSize || ne.Uint16(p[8:]) != freelistPage {
		return nil, false
	}
	ids := p[pageHeaderSize:]
	n := uint64(ne.Uint16(p[10:]))
	if n == 0xFFFF {
		if len(ids) < 8 {
			return nil, false
		}
		n, ids = ne.Uint64(ids), ids[8:]
	}
	if n > uint64(len(ids))/8 {
		return nil, false
	}
	free := make([]uint64, n)
	for i := range free {
		free[i] = ne.Uint64(ids[8*i:])
	}
	return free, true
}

// matches reports whether the file f, whose current meta is m, is the
// state p was taken of: the same transaction, and every page in use with
// its sum. It returns the state's free pages. It never panics: a file that
// shrinks while it is read does not match.
func (p *pageSums) matches(f *os.File, m boltMeta) (free []uint64, ok bool) {
	if p == nil || p.pageSize != m.pageSize || p.txid != m.txid || uint64(len(p.sums)) != m.pgid {
		return nil, false
	}
	data, unmap, err := mapFile(f, int(m.pgid*m.pageSize))
	if err != nil {
		return nil, false
	}
	defer unmap()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			free, ok = nil, false
		}
	}()
	ps := m.pageSize
	same := func(id uint64) bool {
		return crc32.Checksum(data[id*ps:(id+1)*ps], sumsTable) == p.sums[id]
	}
	if !same(0) || !same(1) {
		return nil, false
	}
	skip := make([]bool, m.pgid)
	skip[0], skip[1] = true, true
	if m.freelist != noFreelist {
		// The freelist page and its overflow are in use: compared first,
		// then believed.
		overflow := uint64(ne.Uint32(data[m.freelist*ps+12:]))
		if overflow >= m.pgid-m.freelist {
			return nil, false
		}
		for id := m.freelist; id <= m.freelist+overflow; id++ {
			if !same(id) {
				return nil, false
			}
			skip[id] = true
		}
		if free, ok = freePages(data[m.freelist*ps : (m.freelist+overflow+1)*ps]); !ok {
			return nil, false
		}
		for _, id := range free {
			if id < 2 || id >= m.pgid {
				return nil, false
			}
			skip[id] = true
		}
	}
	for id := range m.pgid {
		if !skip[id] && !same(id) {
			return nil, false
		}
	}
	return free, true
}

// takeSums takes the sums of every page of the file f, whose current meta
// is m.
func takeSums(f *os.File, m boltMeta) (*pageSums, error) {
	p := &pageSums{pageSize: m.pageSize, txid: m.txid, sums: make([]uint32, m.pgid)}
	buf := make([]byte, 256*m.pageSize)
	for id := uint64(0); id < m.pgid; {
		n := min(256, m.pgid-id)
		if err := readPages(f, buf[:n*m.pageSize], id, m.pageSize); err != nil {
			return nil, err
		}
		for i := range n {
			p.sums[id+i] = crc32.Checksum(buf[i*m.pageSize:(i+1)*m.pageSize], sumsTable)
		}
		id += n
	}
	var err error
	p.free, err = readFreelist(f, m)
	return p, err
}

// readPages reads pages from id on into buf.
func readPages(f *os.File, buf []byte, id, pageSize uint64) error {
	n, err := f.ReadAt(buf, int64(id*pageSize))
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readFreelist reads the pages listed free in the state m describes.
func readFreelist(f *os.File, m boltMeta) ([]uint64, error) {
	if m.freelist == noFreelist {
		return nil, nil
	}
	head := make([]byte, pageHeaderSize)
	if err := readPages(f, head, m.freelist, m.pageSize); err != nil {
		return nil, err
	}
	overflow := uint64(ne.Uint32(head[12:]))
	if overflow >= m.pgid-m.freelist {
		return nil, fmt.Errorf("freelist page %d runs past the end of the file", m.freelist)
	}
	p := make([]byte, (overflow+1)*m.pageSize)
	if err := readPages(f, p, m.freelist, m.pageSize); err != nil {
		return nil, err
	}
	free, ok := freePages(p)
	if !ok {
		return nil, fmt.Errorf("page %d is not a freelist page", m.freelist)
	}
	return free, nil
}

// written brings p up to date after a write transaction, to the state m
// describes: it takes again the sums of the pages the transaction can
// have written — those free before it, those past the end it had, and
// the meta pages.
func (p *pageSums) written(f *os.File, m boltMeta) error {
	if m.pageSize != p.pageSize || m.pgid < uint64(len(p.sums)) {
		return fmt.Errorf("the file's layout changed")
	}
	if m.txid == p.txid {
		return nil // nothing was committed: a failed transaction wrote at most free pages
	}
	dirty := append([]uint64{0, 1}, p.free...)
	for id := uint64(len(p.sums)); id < m.pgid; id++ {
		dirty = append(dirty, id)
	}
	slices.Sort(dirty)
	dirty = slices.Compact(dirty)
	p.sums = slices.Grow(p.sums, int(m.pgid)-len(p.sums))[:m.pgid]
	buf := make([]byte, 0, 256*m.pageSize)
	for i := 0; i < len(dirty); {
		// A run of consecutive pages, read at once.
		j := i + 1
		for j < len(dirty) && dirty[j] == dirty[j-1]+1 && j-i < 256 {
			j++
		}
		if dirty[j-1] >= m.pgid {
			return fmt.Errorf("page %d is past the end of the file", dirty[j-1])
		}
		buf = buf[:uint64(j-i)*m.pageSize]
		if err := readPages(f, buf, dirty[i], m.pageSize); err != nil {
			return err
		}
		for k := i; k < j; k++ {
			off := uint64(k-i) * m.pageSize
			p.sums[dirty[k]] = crc32.Checksum(buf[off:off+m.pageSize], sumsTable)
		}
		i = j
	}
	free, err := readFreelist(f, m)
	if err != nil {
		return err
	}
	p.txid, p.free = m.txid, free
	return nil
}

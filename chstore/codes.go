package chstore

import (
	"errors"
	"strconv"
	"strings"
	"sync"
)

// ErrUnknownName ends a read of OpenStoredSlice that met a node, sensor,
// feature or property the Store had not seen in its network before: the
// caller discards what it made of the rows and opens the slice again,
// which then reads the names spelt out (and learns them).
var ErrUnknownName = errors.New("chstore: a name new to this reader")

// Bounds of the names a network's codes list: a code is a UInt16, and
// the SELECT that lists them must stay well within ClickHouse's
// max_query_size (256 KiB). A network past them is read spelt out.
const (
	maxCodes     = 4096
	maxCodeBytes = 96 << 10
)

// nameCodes keeps, per network, the names the export reads of a Store
// have seen, so that OpenStoredSlice can have ClickHouse send each of a
// row's four names as a UInt16 code (transform, a hash look-up in
// ClickHouse) instead of its bytes. Reading and interning the four
// String columns was 40 % of the exporter's reading of a row (609
// instructions a row under cachegrind, of which 524 the String columns);
// a code is two bytes read and a look-up, and 16 bytes a row go over
// loopback instead of 56. ClickHouse's CPU for the SELECT did not rise:
// 0.63-0.67 s against 0.69-0.70 s for a day of the bench's table (3.3 M
// rows, stored order, three runs each alternating, its query_log's
// OSCPUVirtualTimeMicroseconds, load average 15).
type nameCodes struct {
	mu   sync.Mutex
	nets map[string]*codeLists
}

// codeLists is a network's names by column (node, sensor, feature,
// property); code i is cols[c][i-1], 0 a name not listed. A codeLists is
// never changed once made: reads that run share it. off: the network has
// more names than a SELECT can list, it is read spelt out.
type codeLists struct {
	cols [4][]string
	off  bool
}

// lists is network's codes, nil while not every column has names.
func (n *nameCodes) lists(network string) *codeLists {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.nets[network]
	if l == nil || l.off {
		return nil
	}
	for _, c := range l.cols {
		if len(c) == 0 {
			return nil
		}
	}
	return l
}

// forget drops network's codes, after a read met a name they lack.
func (n *nameCodes) forget(network string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.nets[network]; l != nil && !l.off {
		delete(n.nets, network)
	}
}

// learn adds the names a read of network interned to its codes.
func (n *nameCodes) learn(network string, names *[4]interner) {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.nets[network]
	if old != nil && old.off {
		return
	}
	l, grown := &codeLists{}, false
	size := 0
	for c := range names {
		var have []string
		if old != nil {
			have = old.cols[c]
		}
		seen := make(map[string]bool, len(have))
		for _, s := range have {
			seen[s] = true
		}
		l.cols[c] = have[:len(have):len(have)] // appended to in a copy, never in old's array
		for _, e := range names[c].list {
			if !seen[e.s] {
				seen[e.s] = true
				l.cols[c] = append(l.cols[c], e.s)
				grown = true
			}
		}
		for _, s := range l.cols[c] {
			size += len(s) + 16 // quoted, a comma, a code
		}
		if len(l.cols[c]) > maxCodes {
			l.off = true
		}
	}
	if !grown {
		return
	}
	if size > maxCodeBytes {
		l.off = true
	}
	if n.nets == nil {
		n.nets = make(map[string]*codeLists)
	}
	n.nets[network] = l
}

// selectCodes is the export SELECT's column list with l's codes in place
// of the four names, the names as arguments: each code column is a
// UInt16 (toUInt16(0), the code of a name not listed, decides
// transform's type however few names there are).
func selectCodes(l *codeLists) (string, []any) {
	var b strings.Builder
	var args []any
	b.WriteString("SELECT ")
	for c, col := range [4]string{"node_id", "sensor", "feature", "property"} {
		b.WriteString("transform(" + col + ", [")
		for i, s := range l.cols[c] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
			args = append(args, s)
		}
		b.WriteString("], [")
		for i := range l.cols[c] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(i + 1))
		}
		b.WriteString("], toUInt16(0)) AS " + col + "_code, ")
		if c == 0 {
			b.WriteString("ts, ")
		}
	}
	b.WriteString("value ")
	return b.String(), args
}

// decodeCodes reads rows UInt16 codes of c's names, as many as are
// buffered at a time, each stored by index into room made once: appended
// one by one, a code was 36 instructions (cachegrind, PartWrite/stored/scan).
func (c *strCol) decodeCodes(rows int) error {
	codes := c.codes
	for len(c.vals) < rows {
		if _, err := c.br.Peek(2); err != nil {
			return noEOF(err)
		}
		avail, _ := c.br.Peek(c.br.Buffered())
		at := len(c.vals)
		k := min(rows-at, len(avail)/2)
		vals := c.vals[at : at+k]
		for j, o := 0, 0; j < len(vals) && o+1 < len(avail); j, o = j+1, o+2 { // no bounds checks
			i := uint(avail[o]) | uint(avail[o+1])<<8 - 1 // 0, not listed: past the end
			if i >= uint(len(codes)) {
				c.vals = c.vals[:at+j]
				return ErrUnknownName
			}
			vals[j] = codes[i]
		}
		c.vals = c.vals[:at+k]
		if _, err := c.br.Discard(2 * k); err != nil {
			return noEOF(err)
		}
	}
	return nil
}

package result

import (
	"encoding/binary"

	"github.com/plenario-next/exportd/schema"
)

// maxRenderNames bounds the nodes, and the sensor, feature and property
// triples, a Renderer keeps; past it, that list begins again.
const maxRenderNames = 4096

// renderNames is what a Renderer has made of the names it has seen, so
// that a line of known names is rendered by copying pieces: each node's
// part of an observation's head, each triple's beginning of an
// observation and its further property. A part's lines come in the same
// order every second, so each entry remembers the one that came after it
// last, and that is asked first; the rest are found by a map.
type renderNames struct {
	nodes   []nodeOut
	nodeIdx map[string]int32 // by the node's value
	trips   []tripleOut
	tripIdx map[string]int32 // by the three values (valueKey)
	rawIdx  map[string]int32 // by a plain line's "sensor,feature,property,"
	sfIdx   map[string]int32 // a sensor and feature's id (valueKey), from 1
	key     []byte           // scratch for valueKey
}

// nodeOut is a node and its piece of an observation's head,
// {"node":…,"meta_id":…,"datetime": (the datetime's string follows).
type nodeOut struct {
	node  string
	out   []byte
	next  int32
	plain bool // node is spelt as it is (plainName)
}

// tripleOut is a sensor, feature and property: begin is what an
// observation of them begins with after its datetime,
// ,"sensor":…,"feature":…,"results":{"property": and more what their
// property adds to an open one, ,"property":; sf names the sensor and
// feature, the same for all the triples that share them (an observation's
// properties share them).
type tripleOut struct {
	raw                   []byte // as a plain line spells it; empty if none seen
	begin, more           []byte
	sf                    int32
	next                  int32
	stamp                 uint64 // the observation (Renderer.cur) it was last added to
	quick                 bool   // raw is of 24 to 48 bytes, begin and more fit runQuick's moves (move96, move32)
	sensor, feature, prop string
}

// node is the index of the entry of node, made with its meta_id from ids
// if it is new; last is the node before it (-1: none), whose successor it
// becomes.
func (n *renderNames) node(node []byte, ids schema.MetaIDs, last int32) int32 {
	if last >= 0 {
		if i := n.nodes[last].next; n.nodes[i].node == string(node) {
			return i
		}
	}
	i, ok := n.nodeIdx[string(node)]
	if !ok {
		if len(n.nodes) >= maxRenderNames || n.nodeIdx == nil {
			n.nodes, n.nodeIdx, last = n.nodes[:0], make(map[string]int32), -1
		}
		i = int32(len(n.nodes))
		n.nodes = append(n.nodes, nodeOut{node: string(node), out: padded(appendNodeHead(nil, node, ids[string(node)]), 96), next: i, plain: plainName(node)})
		n.nodeIdx[string(node)] = i
	}
	if last >= 0 {
		n.nodes[last].next = i
	}
	return i
}

// rawTriple is the index of the triple whose plain spelling rest begins
// with, up to its third comma; -1 if it has none known, or a quote or
// line break comes first.
func (n *renderNames) rawTriple(rest []byte) int32 {
	commas := 0
	for k, c := range rest {
		switch c {
		case ',':
			if commas++; commas == 3 {
				if i, ok := n.rawIdx[string(rest[:k+1])]; ok {
					return i
				}
				return -1
			}
		case '"', '\n':
			return -1
		}
	}
	return -1
}

// triple is the index of the entry of sensor, feature and prop (values),
// made if it is new; raw is their spelling in a plain line ("s,f,p,"),
// nil if the line quotes one. The caller begins the list again when it
// is long (Renderer.forgetTriples).
func (n *renderNames) triple(sensor, feature, prop, raw []byte) int32 {
	n.key = valueKey(n.key[:0], sensor, feature, prop)
	i, ok := n.tripIdx[string(n.key)]
	if !ok {
		if n.tripIdx == nil {
			n.tripIdx, n.rawIdx, n.sfIdx = make(map[string]int32), make(map[string]int32), make(map[string]int32)
		}
		n.key = valueKey(n.key[:0], sensor, feature)
		sf, ok := n.sfIdx[string(n.key)]
		if !ok {
			sf = int32(len(n.sfIdx) + 1)
			n.sfIdx[string(n.key)] = sf
		}
		n.key = valueKey(n.key[:0], sensor, feature, prop)
		i = int32(len(n.trips))
		t := tripleOut{sensor: string(sensor), feature: string(feature), prop: string(prop), sf: sf, next: i}
		t.begin = padded(append(appendJSONString(renderSF(nil, sensor, feature), prop), ':'), 96) // for runQuick's move96
		t.more = padded(append(appendJSONString([]byte{','}, prop), ':'), 32)                     // and move32
		n.trips = append(n.trips, t)
		n.tripIdx[string(n.key)] = i
	}
	if t := &n.trips[i]; len(raw) > 0 && len(t.raw) == 0 { // a plain spelling is the value's only one
		t.raw = append([]byte(nil), raw...)
		t.quick = uint(len(t.raw)-24) <= 24 && len(t.begin) <= 96 && len(t.more) <= 32
		n.rawIdx[string(raw)] = i
	}
	return i
}

// forgetTriples empties the triples.
func (n *renderNames) forgetTriples() {
	n.trips = n.trips[:0]
	clear(n.tripIdx)
	clear(n.rawIdx)
	clear(n.sfIdx)
}

// plainName reports whether a CSV field of name would be spelt as name,
// with no quote, and whether name holds neither a comma nor a line break,
// so that bytes that begin with name and a comma begin with the field.
func plainName(name []byte) bool {
	for _, c := range name {
		if c == '"' || c == ',' || c == '\n' || c == '\r' {
			return false
		}
	}
	return true
}

// valueKey appends a map key of names to b: each one's length, then it.
func valueKey(b []byte, names ...[]byte) []byte {
	for _, s := range names {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

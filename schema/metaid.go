package schema

import (
	"encoding/json"
	"hash/fnv"
)

// MetaIDs maps node ids to their meta_id. Plenario's observations carried a
// meta_id, the id of the node's configuration when it reported: a number
// that stays the same for all of a node's readings while its metadata does
// not change. We have no table of configurations, so a node's meta_id is
// derived from its metadata (NodeMetaID): the same metadata gives the same
// number in every process and after every restart, and a change of place,
// sensors, address or info gives another. A job fixes the meta_ids of its
// nodes when it is planned (the started event carries them), so its files
// never change afterwards, whichever format they are read in. A node with
// no metadata has meta_id 0.
type MetaIDs map[string]uint32

// NodeMetaID is x's meta_id: the FNV-1a hash (32 bits) of its metadata
// document as /nodes serves it (JSON objects sort their keys, so the
// document is canonical); never 0, which stands for "no metadata".
func NodeMetaID(x Node) uint32 {
	b, err := json.Marshal(x.Doc())
	if err != nil { // an info value JSON cannot hold: the id alone
		b = []byte(x.Network + "\x00" + x.ID)
	}
	h := fnv.New32a()
	h.Write(b)
	if v := h.Sum32(); v != 0 {
		return v
	}
	return 1
}

// MetaIDs returns the meta_ids of the network's nodes, or of only those
// listed in ids (when ids is not nil).
func (n *Network) MetaIDs(ids []string) MetaIDs {
	m := MetaIDs{}
	if ids == nil {
		for _, x := range n.Nodes {
			m[x.ID] = NodeMetaID(x)
		}
		return m
	}
	for _, id := range ids {
		if x, ok := n.Node(id); ok {
			m[x.ID] = NodeMetaID(x)
		}
	}
	return m
}

// SetMetaIDs gives each observation its node's meta_id, working out each
// node's once.
func (n *Network) SetMetaIDs(obs []Observation) {
	ids := MetaIDs{}
	for i := range obs {
		id, ok := ids[obs[i].Node]
		if !ok {
			if x, found := n.Node(obs[i].Node); found {
				id = NodeMetaID(x)
			}
			ids[obs[i].Node] = id
		}
		obs[i].MetaID = id
	}
}

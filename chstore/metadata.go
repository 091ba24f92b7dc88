package chstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Networks returns the names of all networks, sorted.
func (s *Store) Networks(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT name FROM networks FINAL ORDER BY name")
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, translate(err)
		}
		out = append(out, n)
	}
	return out, translate(rows.Err())
}

// Network returns a network's metadata, or a NotFound error.
func (s *Store) Network(ctx context.Context, name string) (*schema.Network, error) {
	n := &schema.Network{}
	var info string
	rows, err := s.conn.Query(ctx, "SELECT name, info FROM networks FINAL WHERE lower(name) = lower(?)", name)
	if err != nil {
		return nil, translate(err)
	}
	found := false
	for rows.Next() {
		if err := rows.Scan(&n.Name, &info); err != nil {
			rows.Close()
			return nil, translate(err)
		}
		found = true
	}
	rows.Close()
	if !found {
		return nil, schema.Errorf(schema.NotFound, "Invalid network name: %s", name)
	}
	n.Info = decodeInfo(info)

	nodes, err := s.conn.Query(ctx, "SELECT id, lon, lat, address, sensors, info FROM nodes FINAL WHERE network = ? ORDER BY id", n.Name)
	if err != nil {
		return nil, translate(err)
	}
	for nodes.Next() {
		x := schema.Node{Network: n.Name}
		if err := nodes.Scan(&x.ID, &x.Lon, &x.Lat, &x.Address, &x.Sensors, &info); err != nil {
			nodes.Close()
			return nil, translate(err)
		}
		x.Info = decodeInfo(info)
		n.Nodes = append(n.Nodes, x)
	}
	nodes.Close()

	sensors, err := s.conn.Query(ctx, "SELECT name, properties, info FROM sensors FINAL WHERE network = ? ORDER BY name", n.Name)
	if err != nil {
		return nil, translate(err)
	}
	for sensors.Next() {
		var x schema.Sensor
		if err := sensors.Scan(&x.Name, &x.Properties, &info); err != nil {
			sensors.Close()
			return nil, translate(err)
		}
		x.Info = decodeInfo(info)
		n.Sensors = append(n.Sensors, x)
	}
	sensors.Close()

	features, err := s.conn.Query(ctx, "SELECT name, properties, types, units, common_names FROM features FINAL WHERE network = ? ORDER BY name", n.Name)
	if err != nil {
		return nil, translate(err)
	}
	defer features.Close()
	for features.Next() {
		var f schema.Feature
		var props, types, units, common []string
		if err := features.Scan(&f.Name, &props, &types, &units, &common); err != nil {
			return nil, translate(err)
		}
		for i, p := range props {
			pr := schema.Property{Name: p}
			if i < len(types) {
				pr.Type = types[i]
			}
			if i < len(units) {
				pr.Unit = units[i]
			}
			if i < len(common) {
				pr.CommonName = common[i]
			}
			f.Properties = append(f.Properties, pr)
		}
		n.Features = append(n.Features, f)
	}
	return n, translate(features.Err())
}

func decodeInfo(s string) map[string]any {
	m := map[string]any{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

func encodeInfo(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// SaveNetwork writes a network's metadata, replacing an earlier version.
func (s *Store) SaveNetwork(ctx context.Context, n *schema.Network) error {
	v := uint64(time.Now().UnixNano())
	// Every insert is a batch: ClickHouse 18.16 waits for a data block after
	// an INSERT even when the statement carries VALUES.
	netb, err := s.conn.PrepareBatch(ctx, "INSERT INTO networks (name, info, version)")
	if err != nil {
		return translate(err)
	}
	if err := netb.Append(n.Name, encodeInfo(n.Info), v); err != nil {
		return translate(err)
	}
	if err := netb.Send(); err != nil {
		return translate(fmt.Errorf("save network: %w", err))
	}
	nb, err := s.conn.PrepareBatch(ctx, "INSERT INTO nodes (network, id, lon, lat, address, sensors, info, version)")
	if err != nil {
		return translate(err)
	}
	for _, x := range n.Nodes {
		if err := nb.Append(n.Name, x.ID, x.Lon, x.Lat, x.Address, x.Sensors, encodeInfo(x.Info), v); err != nil {
			return translate(err)
		}
	}
	if err := nb.Send(); err != nil {
		return translate(fmt.Errorf("save nodes: %w", err))
	}
	sb, err := s.conn.PrepareBatch(ctx, "INSERT INTO sensors (network, name, properties, info, version)")
	if err != nil {
		return translate(err)
	}
	for _, x := range n.Sensors {
		if err := sb.Append(n.Name, x.Name, x.Properties, encodeInfo(x.Info), v); err != nil {
			return translate(err)
		}
	}
	if err := sb.Send(); err != nil {
		return translate(fmt.Errorf("save sensors: %w", err))
	}
	fb, err := s.conn.PrepareBatch(ctx, "INSERT INTO features (network, name, properties, types, units, common_names, version)")
	if err != nil {
		return translate(err)
	}
	for _, f := range n.Features {
		var props, types, units, common []string
		for _, p := range f.Properties {
			props, types, units = append(props, p.Name), append(types, p.Type), append(units, p.Unit)
			common = append(common, p.CommonName)
		}
		if err := fb.Append(n.Name, f.Name, props, types, units, common, v); err != nil {
			return translate(err)
		}
	}
	return translate(fb.Send())
}

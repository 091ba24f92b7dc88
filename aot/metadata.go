package aot

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// ErrBadMetadata marks a digest whose nodes.csv, sensors.csv or
// provenance.csv cannot be read: the load stops before it writes anything.
var ErrBadMetadata = errors.New("aot: bad metadata")

// Metadata is what a digest says about its network, apart from the data.
type Metadata struct {
	Project    string            // provenance.csv's project_id, e.g. "AoT_Chicago.complete"
	Provenance map[string]string // provenance.csv's one row, by column
	Nodes      []NodeRecord
	Sensors    []SensorRecord
}

// NodeRecord is one row of nodes.csv.
type NodeRecord struct {
	ID, Project, VSN, Address string
	Lat, Lon                  float64
	Description               string
	Start, End                string // "YYYY/MM/DD HH:MM:SS"; End empty while installed
}

// SensorRecord is one row of sensors.csv: one parameter of one sensor.
type SensorRecord struct {
	Ontology, Subsystem, Sensor, Parameter string
	Unit, Min, Max, Datasheet              string
}

// SensorName is the name a (subsystem, sensor) pair has in exportd:
// "subsystem.sensor", always. AoT reuses sensor names across subsystems
// (metsense/htu21d measures the air, wagman/htu21d the inside of the
// enclosure; nc and ep share a dozen), and naming only the colliding ones
// would rename a sensor the day a newer digest adds its twin. The dot never
// occurs in AoT's own names.
func SensorName(subsystem, sensor string) string { return subsystem + "." + sensor }

// Feature is the feature of interest of an ontology path: its last segment
// ("/sensing/meteorology/temperature" → "temperature").
func Feature(ontology string) string {
	o := strings.TrimRight(ontology, "/")
	return o[strings.LastIndexByte(o, '/')+1:]
}

// NetworkName is the default network of a project id: the part before the
// first dot, lowercased, anything but letters, digits and '_' made '_'
// ("AoT_Chicago.complete" → "aot_chicago"). Digests of one project, and its
// .complete and .public variants, land in one network.
func NetworkName(project string) string {
	p, _, _ := strings.Cut(project, ".")
	b := []byte(strings.ToLower(p))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// readTable reads a CSV with a header holding at least the want columns and
// returns its rows as maps by column.
func readTable(name string, r io.Reader, want []string) ([]map[string]string, error) {
	cr := csv.NewReader(lineEnds(r, 64<<10))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: header: %v", ErrBadMetadata, name, err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.TrimSpace(h)] = i
	}
	for _, w := range want {
		if _, ok := idx[w]; !ok {
			return nil, fmt.Errorf("%w: %s: no column %q (have %s)", ErrBadMetadata, name, w, strings.Join(head, ","))
		}
	}
	var out []map[string]string
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadMetadata, name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		m := make(map[string]string, len(head))
		for k, i := range idx {
			if i < len(rec) {
				m[k] = strings.TrimSpace(rec[i])
			}
		}
		out = append(out, m)
	}
}

// ParseNodes reads nodes.csv.
func ParseNodes(r io.Reader) ([]NodeRecord, error) {
	rows, err := readTable("nodes.csv", r, []string{"node_id", "lat", "lon"})
	if err != nil {
		return nil, err
	}
	out := make([]NodeRecord, 0, len(rows))
	seen := map[string]bool{}
	for i, m := range rows {
		n := NodeRecord{ID: m["node_id"], Project: m["project_id"], VSN: m["vsn"], Address: m["address"],
			Description: m["description"], Start: m["start_timestamp"], End: m["end_timestamp"]}
		if n.ID == "" || seen[n.ID] {
			return nil, fmt.Errorf("%w: nodes.csv row %d: empty or repeated node_id %q", ErrBadMetadata, i+2, n.ID)
		}
		seen[n.ID] = true
		// A node without a place is kept at (0, 0) rather than dropped: its
		// readings are still wanted, and a geom filter simply never finds it.
		if m["lat"] != "" || m["lon"] != "" {
			if n.Lat, err = strconv.ParseFloat(m["lat"], 64); err != nil {
				return nil, fmt.Errorf("%w: nodes.csv row %d: lat %q", ErrBadMetadata, i+2, m["lat"])
			}
			if n.Lon, err = strconv.ParseFloat(m["lon"], 64); err != nil {
				return nil, fmt.Errorf("%w: nodes.csv row %d: lon %q", ErrBadMetadata, i+2, m["lon"])
			}
			if math.IsNaN(n.Lat) || math.IsNaN(n.Lon) || math.Abs(n.Lat) > 90 || math.Abs(n.Lon) > 180 {
				return nil, fmt.Errorf("%w: nodes.csv row %d: no place at lat %s, lon %s", ErrBadMetadata, i+2, m["lat"], m["lon"])
			}
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: nodes.csv has no nodes", ErrBadMetadata)
	}
	return out, nil
}

// ParseSensors reads sensors.csv.
func ParseSensors(r io.Reader) ([]SensorRecord, error) {
	rows, err := readTable("sensors.csv", r, []string{"ontology", "subsystem", "sensor", "parameter"})
	if err != nil {
		return nil, err
	}
	out := make([]SensorRecord, 0, len(rows))
	for i, m := range rows {
		s := SensorRecord{Ontology: m["ontology"], Subsystem: m["subsystem"], Sensor: m["sensor"], Parameter: m["parameter"],
			Unit: m["hrf_unit"], Min: m["hrf_minval"], Max: m["hrf_maxval"], Datasheet: m["datasheet"]}
		if s.Subsystem == "" || s.Sensor == "" || s.Parameter == "" || Feature(s.Ontology) == "" {
			return nil, fmt.Errorf("%w: sensors.csv row %d: empty ontology, subsystem, sensor or parameter", ErrBadMetadata, i+2)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: sensors.csv has no sensors", ErrBadMetadata)
	}
	return out, nil
}

// ParseProvenance reads provenance.csv's one row.
func ParseProvenance(r io.Reader) (map[string]string, error) {
	rows, err := readTable("provenance.csv", r, []string{"project_id"})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: provenance.csv has no row", ErrBadMetadata)
	}
	return rows[0], nil
}

// aotTime turns the digest's "YYYY/MM/DD HH:MM:SS" into the API's layout;
// anything else is kept as written.
func aotTime(s string) any {
	if s == "" {
		return nil
	}
	t, err := time.Parse("2006/01/02 15:04:05", s)
	if err != nil {
		return s
	}
	return t.Format(schema.DatetimeLayout)
}

// Network builds the network's metadata. Nodes keep their place, address
// and, in info, VSN, description and installation times. Each sensor has
// its subsystem, datasheet and, per property, the ontology, unit and range
// in info. A feature's property has the unit its sensors agree on; where
// they do not (AoT's disk_usage.boot is bytes for disk_used, a ratio for
// disk_used_ratio) the units are listed, sorted, joined by "|", and each
// sensor's info says its own. Node sensor lists start empty: the data tells
// which sensors a node carries (Reader.NodeSensors).
func (m *Metadata) Network(name string) *schema.Network {
	n := &schema.Network{Name: name, Info: map[string]any{"source": "Array of Things digest"}}
	if m.Project != "" {
		n.Info["project"] = m.Project
	}
	for _, k := range []string{"data_start_date", "data_end_date", "creation_date", "url"} {
		if v := m.Provenance[k]; v != "" {
			n.Info[k] = v
		}
	}
	for _, x := range m.Nodes {
		info := map[string]any{"vsn": x.VSN, "description": x.Description, "start_timestamp": aotTime(x.Start), "end_timestamp": aotTime(x.End)}
		if x.Project != "" {
			info["project_id"] = x.Project
		}
		n.Nodes = append(n.Nodes, schema.Node{ID: x.ID, Network: name, Lon: x.Lon, Lat: x.Lat, Address: x.Address, Sensors: []string{}, Info: info})
	}
	sensors := map[string]*schema.Sensor{}
	units := map[[2]string]map[string]bool{} // feature, property → units
	var order []string
	for _, s := range m.Sensors {
		name := SensorName(s.Subsystem, s.Sensor)
		x := sensors[name]
		if x == nil {
			x = &schema.Sensor{Name: name, Info: map[string]any{"subsystem": s.Subsystem, "sensor": s.Sensor, "properties": map[string]any{}}}
			if s.Datasheet != "" {
				x.Info["datasheet"] = s.Datasheet
			}
			sensors[name] = x
			order = append(order, name)
		}
		f := Feature(s.Ontology)
		fp := f + "." + s.Parameter
		x.Properties = append(x.Properties, fp)
		p := map[string]any{"ontology": s.Ontology, "unit": s.Unit}
		if v, ok := finite(s.Min); ok {
			p["min"] = v
		}
		if v, ok := finite(s.Max); ok {
			p["max"] = v
		}
		x.Info["properties"].(map[string]any)[fp] = p
		k := [2]string{f, s.Parameter}
		if units[k] == nil {
			units[k] = map[string]bool{}
		}
		units[k][s.Unit] = true
	}
	for _, name := range order {
		n.Sensors = append(n.Sensors, *sensors[name])
	}
	features := map[string]*schema.Feature{}
	for k, us := range units {
		f := features[k[0]]
		if f == nil {
			f = &schema.Feature{Name: k[0]}
			features[k[0]] = f
		}
		var list []string
		for u := range us {
			list = append(list, u)
		}
		sort.Strings(list)
		f.Properties = append(f.Properties, schema.Property{Name: k[1], Type: "float", Unit: strings.Join(list, "|")})
	}
	for _, f := range features {
		sort.Slice(f.Properties, func(i, j int) bool { return f.Properties[i].Name < f.Properties[j].Name })
		n.Features = append(n.Features, *f)
	}
	n.Sort()
	return n
}

// finite reads a range bound of sensors.csv; NaN and Inf, which strconv
// reads but JSON cannot hold, are left out as unreadable text is (a
// sensor's info with one was stored empty).
func finite(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
}

package aot

// catalog answers, for each data line, which node and which sensor
// parameter it names, with the strings a row carries made once: a line's
// fields are looked up, never copied.
type catalog struct {
	nodes   map[string]int32 // node_id → index in nodeIDs
	nodeIDs []string
	params  map[string]int32 // "subsystem,sensor,parameter" → index in paramList
	list    []param
	sensors []string // sensor names, by param.sensor
}

// param is what one (subsystem, sensor, parameter) becomes in a row.
type param struct {
	sensorName, feature, property string
	sensor                        int32 // index in catalog.sensors
}

func newCatalog(m *Metadata) *catalog {
	c := &catalog{nodes: make(map[string]int32, len(m.Nodes)), params: make(map[string]int32, len(m.Sensors))}
	for _, n := range m.Nodes {
		c.nodes[n.ID] = int32(len(c.nodeIDs))
		c.nodeIDs = append(c.nodeIDs, n.ID)
	}
	sensorIdx := map[string]int32{}
	for _, s := range m.Sensors {
		name := SensorName(s.Subsystem, s.Sensor)
		si, ok := sensorIdx[name]
		if !ok {
			si = int32(len(c.sensors))
			sensorIdx[name] = si
			c.sensors = append(c.sensors, name)
		}
		key := s.Subsystem + "," + s.Sensor + "," + s.Parameter
		if _, dup := c.params[key]; dup {
			continue // a repeated row of sensors.csv: the first one counts
		}
		c.params[key] = int32(len(c.list))
		c.list = append(c.list, param{sensorName: name, feature: Feature(s.Ontology), property: s.Parameter, sensor: si})
	}
	return c
}

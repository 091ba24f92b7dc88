package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
)

// LineBuffer is how near a node must be to a Point or a LineString to be
// selected by it: Plenario buffered lines by about 100 m.
const LineBuffer = 100.0 // metres

// Geom is a parsed geom filter.
type Geom struct {
	g         orb.Geometry
	Canonical []byte // the geometry as GeoJSON, echoed in the ticket
}

// ParseGeom reads a GeoJSON geometry, a Feature (its geometry) or a
// FeatureCollection (its first feature), as Plenario did.
func ParseGeom(s string) (*Geom, error) {
	if len(s) > MaxGeomBytes {
		return nil, fmt.Errorf("geometry larger than %d bytes", MaxGeomBytes)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(s), &head); err != nil {
		return nil, errors.New("not valid JSON")
	}
	var g orb.Geometry
	switch head.Type {
	case "FeatureCollection":
		fc, err := geojson.UnmarshalFeatureCollection([]byte(s))
		if err != nil {
			return nil, err
		}
		if len(fc.Features) == 0 || fc.Features[0].Geometry == nil {
			return nil, errors.New("feature collection has no feature with a geometry")
		}
		g = fc.Features[0].Geometry
	case "Feature":
		f, err := geojson.UnmarshalFeature([]byte(s))
		if err != nil {
			return nil, err
		}
		if f.Geometry == nil {
			return nil, errors.New("feature has no geometry")
		}
		g = f.Geometry
	case "Point", "LineString", "Polygon", "MultiPolygon", "MultiPoint", "MultiLineString":
		gg, err := geojson.UnmarshalGeometry([]byte(s))
		if err != nil {
			return nil, err
		}
		g = gg.Geometry()
	case "":
		return nil, errors.New("missing type")
	default:
		return nil, fmt.Errorf("unsupported type %q", head.Type)
	}
	if g == nil {
		return nil, errors.New("missing geometry")
	}
	if err := checkGeometry(g); err != nil {
		return nil, err
	}
	canon, err := geojson.NewGeometry(g).MarshalJSON()
	if err != nil {
		return nil, err
	}
	return &Geom{g: g, Canonical: canon}, nil
}

func checkGeometry(g orb.Geometry) error {
	n := 0
	bad := false
	visit := func(p orb.Point) {
		n++
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.Abs(p[0]) > 180 || math.Abs(p[1]) > 90 {
			bad = true
		}
	}
	checkRing := func(r orb.Ring) error {
		if len(r) < 4 {
			return errors.New("a polygon ring needs at least 4 positions")
		}
		if !r.Closed() {
			return errors.New("a polygon ring must be closed")
		}
		return nil
	}
	switch g := g.(type) {
	case orb.Point:
		visit(g)
	case orb.MultiPoint:
		for _, p := range g {
			visit(p)
		}
		if len(g) == 0 {
			return errors.New("empty geometry")
		}
	case orb.LineString:
		if len(g) < 2 {
			return errors.New("a LineString needs at least 2 positions")
		}
		for _, p := range g {
			visit(p)
		}
	case orb.MultiLineString:
		if len(g) == 0 {
			return errors.New("empty geometry")
		}
		for _, ls := range g {
			if len(ls) < 2 {
				return errors.New("a LineString needs at least 2 positions")
			}
			for _, p := range ls {
				visit(p)
			}
		}
	case orb.Polygon:
		if len(g) == 0 {
			return errors.New("empty geometry")
		}
		for _, r := range g {
			if err := checkRing(r); err != nil {
				return err
			}
			for _, p := range r {
				visit(p)
			}
		}
	case orb.MultiPolygon:
		if len(g) == 0 {
			return errors.New("empty geometry")
		}
		for _, poly := range g {
			if len(poly) == 0 {
				return errors.New("empty polygon")
			}
			for _, r := range poly {
				if err := checkRing(r); err != nil {
					return err
				}
				for _, p := range r {
					visit(p)
				}
			}
		}
	default:
		return fmt.Errorf("unsupported geometry %s", g.GeoJSONType())
	}
	if bad {
		return errors.New("coordinates out of range")
	}
	if n > MaxGeomVertices {
		return fmt.Errorf("more than %d positions", MaxGeomVertices)
	}
	return nil
}

// Contains reports whether a node at lon, lat is selected: inside a polygon
// (holes excluded) or within LineBuffer of a point or line.
func (g *Geom) Contains(lon, lat float64) bool {
	pt := orb.Point{lon, lat}
	switch x := g.g.(type) {
	case orb.Polygon:
		return planar.PolygonContains(x, pt)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(x, pt)
	case orb.Point:
		return near(orb.LineString{x, x}, pt)
	case orb.MultiPoint:
		for _, p := range x {
			if near(orb.LineString{p, p}, pt) {
				return true
			}
		}
	case orb.LineString:
		return near(x, pt)
	case orb.MultiLineString:
		for _, ls := range x {
			if near(ls, pt) {
				return true
			}
		}
	}
	return false
}

// near measures in a local equirectangular projection around pt, exact
// enough at city scale.
func near(ls orb.LineString, pt orb.Point) bool {
	const mPerDegLat = 111_320.0
	mPerDegLon := mPerDegLat * math.Cos(pt[1]*math.Pi/180)
	local := make(orb.LineString, len(ls))
	for i, p := range ls {
		local[i] = orb.Point{(p[0] - pt[0]) * mPerDegLon, (p[1] - pt[1]) * mPerDegLat}
	}
	return planar.DistanceFrom(local, orb.Point{0, 0}) <= LineBuffer
}

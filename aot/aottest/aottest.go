// Package aottest writes Array of Things digests for tests and the
// benchmark: the real Chicago metadata, data in the published layout, as a
// directory, a tar (data entry first or last) or a lone data.csv.gz.
package aottest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/plenario-next/exportd/aot"
)

// Header is data.csv.gz's first line.
const Header = "timestamp,node_id,subsystem,sensor,parameter,value_raw,value_hrf"

// Provenance is a provenance.csv of the Chicago project.
const Provenance = "data_format_version,project_id,data_start_date,data_end_date,creation_date,url\n" +
	"2,AoT_Chicago.complete,2018/01/01 00:00:00,2018/05/01 00:00:00,2018/05/01 00:00:00,https://example.org/AoT_Chicago.complete.tar\n"

// Folder is the folder a digest's tar holds its files in.
const Folder = "AoT_Chicago.complete.2018-05-01"

// Digest is the files of a digest. Empty metadata fields mean Chicago's;
// Skip leaves files out (by name) to make a broken digest.
type Digest struct {
	Nodes, Sensors, Provenance []byte
	Data                       []byte // data.csv.gz as written, see Gzip
	Skip                       map[string]bool
}

func (d Digest) files() []struct {
	name string
	body []byte
} {
	pick := func(b, def []byte) []byte {
		if b == nil {
			return def
		}
		return b
	}
	all := []struct {
		name string
		body []byte
	}{
		{aot.NodesFile, pick(d.Nodes, aot.ChicagoNodesCSV)},
		{aot.SensorsFile, pick(d.Sensors, aot.ChicagoSensorsCSV)},
		{aot.ProvenanceFile, pick(d.Provenance, []byte(Provenance))},
		{"README.md", []byte("# AoT Chicago (test digest)\n")},
		{aot.DataFile, d.Data},
	}
	out := all[:0]
	for _, f := range all {
		if !d.Skip[f.name] {
			out = append(out, f)
		}
	}
	return out
}

// WriteDir writes the digest's files into dir, returning dir.
func (d Digest) WriteDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, f := range d.files() {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.body, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// WriteTar writes the digest as a tar of one folder, as published, with
// data.csv.gz as the first entry or the last.
func (d Digest) WriteTar(path string, dataFirst bool) (string, error) {
	files := d.files()
	if dataFirst {
		for i, f := range files {
			if f.name == aot.DataFile {
				files = append(append(files[:0:0], f), append(files[:i:i], files[i+1:]...)...)
				break
			}
		}
	}
	out, err := os.Create(path)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(out)
	if err := tw.WriteHeader(&tar.Header{Name: Folder + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		return "", err
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: Folder + "/" + f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.body); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return path, out.Close()
}

// Gzip compresses data lines into a data.csv.gz, with the header first.
func Gzip(lines []string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	fmt.Fprintln(zw, Header)
	for _, l := range lines {
		fmt.Fprintln(zw, l)
	}
	_ = zw.Close()
	return b.Bytes()
}

// synthNodes and synthParams are what Synthetic lines are made of: real
// nodes and real parameters.
var synthParams = [][3]string{
	{"metsense", "htu21d", "temperature"}, {"metsense", "htu21d", "humidity"}, {"metsense", "bmp180", "pressure"},
	{"metsense", "bmp180", "temperature"}, {"metsense", "tsys01", "temperature"}, {"lightsense", "hmc5883l", "magnetic_field_x"},
	{"lightsense", "hmc5883l", "magnetic_field_y"}, {"lightsense", "hmc5883l", "magnetic_field_z"}, {"wagman", "htu21d", "temperature"},
	{"chemsense", "co", "concentration"},
}

// SyntheticPerStep is the lines Synthetic writes per step.
func SyntheticPerStep(nodes int) int { return nodes * len(synthParams) }

// Synthetic writes n valid data lines, header first, gzip'd, to w: every
// step from start, each of the first nodes Chicago nodes reports every
// synthetic parameter, values deterministic. fn, when set, is also given
// each line (for a baseline in another layout); it returns the line's row
// as fields.
func Synthetic(w io.Writer, start time.Time, step time.Duration, nodes int, n int64, fn func(ts time.Time, node, sensor, feature, property string, value float64) error) error {
	all := aot.ChicagoNodes()
	if nodes > len(all) {
		nodes = len(all)
	}
	features := map[[3]string]string{}
	for _, s := range parseSensors() {
		features[[3]string{s.Subsystem, s.Sensor, s.Parameter}] = aot.Feature(s.Ontology)
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	bw.WriteString(Header + "\n")
	var line []byte
	var written int64
	for sec := int64(0); written < n; sec++ {
		ts := start.Add(time.Duration(sec) * step).UTC()
		tsText := ts.Format("2006/01/02 15:04:05")
		for ni := 0; ni < nodes && written < n; ni++ {
			for pi, p := range synthParams {
				if written == n {
					break
				}
				v := float64((sec*7+int64(ni)*13+int64(pi)*31)%20000)/100 - 50
				line = append(line[:0], tsText...)
				line = append(line, ',')
				line = append(line, all[ni].ID...)
				line = append(line, ',')
				line = append(line, p[0]+","+p[1]+","+p[2]...)
				line = append(line, ",1,"...)
				line = strconv.AppendFloat(line, v, 'f', -1, 64)
				line = append(line, '\n')
				if _, err := bw.Write(line); err != nil {
					return err
				}
				if fn != nil {
					if err := fn(ts, all[ni].ID, aot.SensorName(p[0], p[1]), features[p], p[2], v); err != nil {
						return err
					}
				}
				written++
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

func parseSensors() []aot.SensorRecord {
	s, err := aot.ParseSensors(bytes.NewReader(aot.ChicagoSensorsCSV))
	if err != nil {
		panic(err)
	}
	return s
}

package aot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// The files of a digest, by base name.
const (
	DataFile       = "data.csv.gz"
	NodesFile      = "nodes.csv"
	SensorsFile    = "sensors.csv"
	ProvenanceFile = "provenance.csv"
)

// ErrMissing marks a digest without one of the files a load needs.
var ErrMissing = errors.New("aot: missing file")

// Digest is an opened digest: its metadata read and checked, its data not
// yet (Data streams it).
type Digest struct {
	Metadata
	// openData opens the compressed data.csv.gz stream.
	openData func() (io.ReadCloser, error)
}

// Open reads a digest's metadata. path is a digest directory, a .tar of one
// ("-" for a tar on standard input), or a data.csv.gz with nodes.csv and
// sensors.csv beside it. Nothing is unpacked to disk. A tar file is read
// twice: first for its small metadata files, seeking over the data entry
// (archive/tar seeks over an entry's body when the file can seek), then for
// the data alone, so the entries may come in any order. A tar on standard
// input cannot be read twice: there nodes.csv and sensors.csv must come
// before data.csv.gz, or Open says so.
func Open(p string) (*Digest, error) {
	if p == "-" {
		return openStreamedTar(os.Stdin)
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	switch {
	case st.IsDir():
		return openFiles(p, filepath.Join(p, DataFile))
	case strings.HasSuffix(p, ".gz"):
		return openFiles(filepath.Dir(p), p)
	default:
		return openTar(p)
	}
}

// openFiles opens a digest whose files lie in dir, its data at data.
func openFiles(dir, data string) (*Digest, error) {
	if _, err := os.Stat(data); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMissing, DataFile, err)
	}
	d := &Digest{openData: func() (io.ReadCloser, error) { return os.Open(data) }}
	for _, name := range []string{NodesFile, SensorsFile, ProvenanceFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) && name == ProvenanceFile {
			continue // optional: the network name then comes from nodes.csv or --network
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMissing, name, err)
		}
		err = d.readMetadata(name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return d, d.check()
}

// readMetadata parses one metadata file into d.
func (d *Digest) readMetadata(name string, r io.Reader) error {
	var err error
	switch name {
	case NodesFile:
		d.Nodes, err = ParseNodes(r)
	case SensorsFile:
		d.Sensors, err = ParseSensors(r)
	case ProvenanceFile:
		if d.Provenance, err = ParseProvenance(r); err == nil {
			d.Project = d.Provenance["project_id"]
		}
	}
	return err
}

// check reports a missing nodes.csv or sensors.csv.
func (d *Digest) check() error {
	if d.Nodes == nil {
		return fmt.Errorf("%w: %s", ErrMissing, NodesFile)
	}
	if d.Sensors == nil {
		return fmt.Errorf("%w: %s", ErrMissing, SensorsFile)
	}
	return nil
}

// DefaultNetwork is the network the digest loads into without --network:
// from provenance.csv's project_id, else from nodes.csv's.
func (d *Digest) DefaultNetwork() (string, error) {
	p := d.Project
	if p == "" && len(d.Nodes) > 0 {
		p = d.Nodes[0].Project
	}
	if n := NetworkName(p); n != "" {
		return n, nil
	}
	return "", errors.New("aot: the digest names no project (provenance.csv): give --network")
}

// metadataEntry says whether a tar entry is one of the metadata files.
func metadataEntry(h *tar.Header) (string, bool) {
	b := path.Base(h.Name)
	return b, h.Typeflag == tar.TypeReg && (b == NodesFile || b == SensorsFile || b == ProvenanceFile)
}

func dataEntry(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && path.Base(h.Name) == DataFile }

// openTar reads a tar file's metadata, skipping over the data entry.
func openTar(p string) (*Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &Digest{}
	tr := tar.NewReader(f)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("aot: %s: not a readable tar: %w", p, err)
		}
		if dataEntry(h) {
			if found {
				return nil, fmt.Errorf("aot: %s holds more than one %s", p, DataFile)
			}
			found = true
		} else if name, ok := metadataEntry(h); ok {
			if err := d.readMetadata(name, tr); err != nil {
				return nil, err
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: %s in %s", ErrMissing, DataFile, p)
	}
	d.openData = func() (io.ReadCloser, error) { return tarData(p) }
	return d, d.check()
}

// tarData opens the data entry of the tar at p.
func tarData(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("aot: %s: looking for %s: %w", p, DataFile, err)
		}
		if dataEntry(h) {
			return readCloser{tr, f}, nil
		}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// openStreamedTar reads a tar that can be read once: metadata first.
func openStreamedTar(r io.Reader) (*Digest, error) {
	d := &Digest{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s in the tar on standard input", ErrMissing, DataFile)
		}
		if err != nil {
			return nil, fmt.Errorf("aot: standard input is not a readable tar: %w", err)
		}
		if name, ok := metadataEntry(h); ok {
			if err := d.readMetadata(name, tr); err != nil {
				return nil, err
			}
			continue
		}
		if !dataEntry(h) {
			continue
		}
		if err := d.check(); err != nil {
			return nil, fmt.Errorf("%w (a tar on standard input is read once, so %s and %s must come before %s; pass the tar as a file to read it in any order)",
				err, NodesFile, SensorsFile, DataFile)
		}
		used := false
		d.openData = func() (io.ReadCloser, error) {
			if used {
				return nil, errors.New("aot: a tar on standard input can be read only once")
			}
			used = true
			return io.NopCloser(tr), nil
		}
		return d, nil
	}
}

// Data opens the observations for reading; a data file that is not gzip
// is an error here, before anything is loaded.
func (d *Digest) Data() (*Reader, error) {
	raw, err := d.openData()
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(raw)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("aot: %s: %w", DataFile, err)
	}
	return newReader(readCloser{gz, raw}, newCatalog(&d.Metadata)), nil
}

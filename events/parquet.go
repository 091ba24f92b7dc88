package events

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// A part of a job submitted as Parquet is also stored as a Parquet file of
// its own (result.ParquetWriter), S2-framed like the others (S2 passes
// zstd's incompressible blocks through almost as they are), in the results
// store. Its size and footer are recorded in the CSV object's metadata, so
// that the job's whole Parquet file (result.ParquetLayout) is sized and
// ranged from the store's metadata alone, and so are its chunks: the
// part's one commit (commit.go) names the Parquet file that goes with its
// CSV, and a later writer of the part cannot replace it. Parts stored
// before that have their Parquet file as an object of its own, under
// ParquetObject.
const (
	MetaParquetSize   = "parquet_size"
	MetaParquetFooter = "parquet_footer" // base64 of the thrift footer
	MetaParquetSHA256 = "parquet_sha256" // of the part's Parquet file
	// MetaParquetNUID names the Parquet file's chunks, MetaParquetChunks
	// counts them, and MetaParquetStored is their bytes.
	MetaParquetNUID   = "parquet_nuid"
	MetaParquetChunks = "parquet_chunks"
	MetaParquetStored = "parquet_stored"
)

// maxParquetFooter bounds the footer a part may record: a part's footer
// lists its row groups' column chunks and is a few KB; the tail kept while
// writing must hold it whole.
const maxParquetFooter = 1 << 20

// ParquetObject is the object name of a part's Parquet file: the object
// of a part stored before the part's metadata recorded the file, the name
// its chunks are read under since.
func ParquetObject(ticket string, part int) string {
	return schema.PartObject(ticket, part) + ".parquet"
}

// parquetObject is the Parquet file that a part's metadata records, as the
// object info its chunks are read with; nil for a part that records none
// (no Parquet, or its file an object of its own).
func parquetObject(info *jetstream.ObjectInfo) (*jetstream.ObjectInfo, error) {
	md := info.Metadata
	id, ok := md[MetaParquetNUID]
	if !ok {
		return nil, nil
	}
	chunks, cerr := strconv.ParseUint(md[MetaParquetChunks], 10, 32)
	size, serr := strconv.ParseUint(md[MetaParquetStored], 10, 64)
	if id == "" || cerr != nil || serr != nil {
		return nil, schema.Errorf(schema.Internal, "part %s: bad Parquet chunks %q, %q, %q", info.Name, id, md[MetaParquetChunks], md[MetaParquetStored])
	}
	return &jetstream.ObjectInfo{ObjectMeta: jetstream.ObjectMeta{Name: info.Name + ".parquet"}, Bucket: info.Bucket,
		NUID: id, Size: size, Chunks: uint32(chunks)}, nil
}

// parquetPart is the Parquet side of a PartWriter.
type parquetPart struct {
	obj  *objectWriter
	enc  *result.ParquetWriter
	tail tailWriter
}

// WithParquet makes the part store its Parquet file too; call it before
// the first row.
func (w *PartWriter) WithParquet() {
	p := &parquetPart{obj: w.b.newObjectWriter(w.csv.ctx, ParquetObject(w.ticket, w.part), w.part)}
	p.tail.w, p.tail.sum = writerFunc(p.obj.write), sha256.New()
	p.enc = result.NewParquetWriter(&p.tail)
	w.parquet = p
}

// WriteParquet adds a row to the part's Parquet file; without WithParquet,
// nothing.
func (w *PartWriter) WriteParquet(r result.ParquetRow) error {
	if w.parquet == nil {
		return nil
	}
	return w.parquet.enc.Append(r)
}

// close finishes the Parquet file and returns its chunks, size, footer
// and SHA-256.
func (p *parquetPart) close() (info *jetstream.ObjectInfo, size int64, footer, sum string, err error) {
	if err = p.enc.Close(); err != nil {
		p.obj.abort(err)
		return nil, 0, "", "", err
	}
	if info, err = p.obj.close(true); err != nil {
		return nil, 0, "", "", err
	}
	f, err := result.ParquetFooter(p.tail.b)
	if err != nil {
		return nil, 0, "", "", schema.Wrap(schema.Internal, "parquet footer", err)
	}
	return info, p.enc.Size(), string(f), hex.EncodeToString(p.tail.sum.Sum(nil)), nil
}

// tailWriter passes writes on, hashes them and keeps the last
// maxParquetFooter+8 bytes.
type tailWriter struct {
	w   writerFunc
	sum hash.Hash
	b   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	if err := t.w(p); err != nil {
		return 0, err
	}
	t.sum.Write(p)
	const keep = maxParquetFooter + 8
	if len(p) >= keep {
		t.b = append(t.b[:0], p[len(p)-keep:]...)
	} else {
		if over := len(t.b) + len(p) - keep; over > 0 {
			t.b = append(t.b[:0], t.b[over:]...)
		}
		t.b = append(t.b, p...)
	}
	return len(p), nil
}

// parquetMeta reads a part's Parquet size, footer and digest from its
// metadata: -1 and "" when it has none.
func parquetMeta(md map[string]string, name string) (int64, string, string, error) {
	v, ok := md[MetaParquetSize]
	if !ok {
		return -1, "", "", nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	footer, ferr := base64.StdEncoding.DecodeString(md[MetaParquetFooter])
	sum := md[MetaParquetSHA256]
	if err != nil || n < 0 || ferr != nil || len(footer) == 0 || len(sum) != 2*sha256.Size {
		return -1, "", "", schema.Errorf(schema.Internal, "part %s: bad Parquet size %q, footer or digest", name, v)
	}
	return n, string(footer), sum, nil
}

// OpenPartParquet opens a part's stored Parquet file for reading.
func (b *Bus) OpenPartParquet(ctx context.Context, ticket string, part int) (*PartReader, error) {
	csv, err := b.partInfo(ctx, ticket, part)
	if err != nil {
		return nil, err
	}
	sp, err := storedPart(csv)
	if err != nil {
		return nil, err
	}
	if sp.Parquet < 0 {
		return nil, schema.Errorf(schema.Internal, "part %d of %s has no Parquet file recorded", part, ticket)
	}
	info, err := parquetObject(csv)
	if err != nil {
		return nil, err
	}
	if info == nil {
		if info, err = objectInfo(ctx, b.results, ParquetObject(ticket, part)); err != nil {
			return nil, err
		}
		if enc := info.Metadata[MetaEncoding]; enc != EncodingS2 {
			return nil, schema.Errorf(schema.Internal, "part %s: unknown encoding %q", info.Name, enc)
		}
	}
	raw, err := b.openChunks(ctx, info)
	if err != nil {
		return nil, err
	}
	return &PartReader{raw: raw, size: sp.Parquet, compressed: true, fresh: true}, nil
}

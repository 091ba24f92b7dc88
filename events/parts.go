package events

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/plenario-next/exportd/schema"
)

// Object metadata of a stored part. A part is stored as S2-compressed CSV
// (MetaEncoding "s2"): CSV of sensor readings shrinks about eightfold, and
// every stored byte is written to and read back from NATS's files and
// copied through its connections on the way to a download. Parts stored
// before that, without MetaEncoding, are the CSV itself and still read.
const (
	MetaRows     = "rows"
	MetaPart     = "part"
	MetaEncoding = "encoding"
	MetaSize     = "size"   // CSV bytes
	MetaSHA256   = "sha256" // of the CSV, lowercase hex
	MetaJSONSize = "json_size"
	// MetaObservations is how many observations the part renders to.
	MetaObservations = "observations"
	EncodingS2       = "s2"
)

// A part is stored once, as CSV (and, for a job submitted as Parquet, as
// its Parquet file too): its JSON and NDJSON are rendered from the CSV as
// they are sent (result.Renderer). The exporter counts the JSON fragment
// while it encodes the CSV, and the part's metadata records its size
// (MetaJSONSize) and its observations (MetaObservations), so that a JSON
// or NDJSON download has a length and ranges without being stored. Parts
// stored before that had their fragment stored in a JSON store of its
// own; their MetaJSONSize is the same size, of the same bytes, and is read
// as such (they have no MetaObservations: their NDJSON has no length).

// partBlock is the S2 block of stored parts: what a writer and a reader
// hold at once, and the most a range request decodes without sending.
const partBlock = 256 << 10

// StoredPart is a stored part as readers see it.
type StoredPart struct {
	Rows     int64
	Bytes    int64  // of the CSV
	SHA256   string // of the CSV, lowercase hex
	Encoding string // EncodingS2, or "" for the CSV itself
	Stored   int64  // bytes in the object store
	JSON     int64  // bytes of the JSON fragment (result.Renderer); -1: not recorded
	// Observations is how many observations the part renders to; -1: not
	// recorded.
	Observations int64
	// Parquet is the size of the part's stored Parquet file, -1 if none
	// was stored (the job was not submitted as Parquet), and ParquetFooter
	// its footer.
	Parquet       int64
	ParquetFooter string // kept comparable
	ParquetSHA256 string // of the part's Parquet file, lowercase hex
}

// storedPart reads a part's object info.
func storedPart(info *jetstream.ObjectInfo) (StoredPart, error) {
	sp := StoredPart{Bytes: int64(info.Size), Stored: int64(info.Size), Encoding: info.Metadata[MetaEncoding], JSON: -1, Observations: -1}
	sp.Rows, _ = strconv.ParseInt(info.Metadata[MetaRows], 10, 64)
	if v, ok := info.Metadata[MetaJSONSize]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return sp, schema.Errorf(schema.Internal, "part %s: bad JSON size %q", info.Name, v)
		}
		sp.JSON = n
	}
	if v, ok := info.Metadata[MetaObservations]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return sp, schema.Errorf(schema.Internal, "part %s: bad observations %q", info.Name, v)
		}
		sp.Observations = n
	}
	var err error
	if sp.Parquet, sp.ParquetFooter, sp.ParquetSHA256, err = parquetMeta(info.Metadata, info.Name); err != nil {
		return sp, err
	}
	switch sp.Encoding {
	case "":
		sum, err := jetstream.DecodeObjectDigest(info.Digest)
		if err != nil {
			return sp, schema.Wrap(schema.Internal, "part digest", err)
		}
		sp.SHA256 = hex.EncodeToString(sum)
	case EncodingS2:
		n, err := strconv.ParseInt(info.Metadata[MetaSize], 10, 64)
		if err != nil || len(info.Metadata[MetaSHA256]) != 2*sha256.Size {
			return sp, schema.Errorf(schema.Internal, "part %s: no size or digest of its CSV", info.Name)
		}
		sp.Bytes, sp.SHA256 = n, info.Metadata[MetaSHA256]
	default:
		return sp, schema.Errorf(schema.Internal, "part %s: unknown encoding %q", info.Name, sp.Encoding)
	}
	return sp, nil
}

// Part returns a stored part's description.
func (b *Bus) Part(ctx context.Context, ticket string, part int) (StoredPart, error) {
	info, err := b.partInfo(ctx, ticket, part)
	if err != nil {
		return StoredPart{}, err
	}
	return storedPart(info)
}

type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// PartWriter stores a part as it is written: its CSV (and its Parquet
// file, if asked for), compressed on the way into chunks of its own, and
// then, at Close, the part's metadata under its deterministic name, if no
// other writer stored the part first (commit.go): a part once stored whole
// is never replaced, and a redone part never adds rows. Writes block while
// the store is behind: a writer holds about one compressed block and two
// chunks per object.
type PartWriter struct {
	b       *Bus
	ticket  string
	part    int
	parquet *parquetPart // nil: no Parquet
	csv     *objectWriter
	sum     hash.Hash // SHA-256 of the CSV
	done    bool
	// the part's JSON fragment size and observations (Rendered); -1: not
	// told
	jsonSize, observations int64
	maybeStored            bool   // the commit's publish had no answer: the chunks are kept for it
	beforePublish          func() // tests: called between the commit's look at the part and its publish
}

// NewPartWriter starts storing a part. Close or Abort it.
func (b *Bus) NewPartWriter(ctx context.Context, ticket string, part int) *PartWriter {
	w := &PartWriter{b: b, ticket: ticket, part: part, sum: sha256.New(), jsonSize: -1, observations: -1}
	w.csv = b.newObjectWriter(ctx, schema.PartObject(ticket, part), part)
	return w
}

// WriteCSV stores CSV rows of the part.
func (w *PartWriter) WriteCSV(p []byte) error {
	w.sum.Write(p)
	return w.csv.write(p)
}

// Rendered records the size of the part's JSON fragment and how many
// observations it has, counted as the CSV was written, for Close to store.
func (w *PartWriter) Rendered(jsonBytes, observations int64) {
	w.jsonSize, w.observations = jsonBytes, observations
}

// Close finishes the part: the Parquet file's chunks and the CSV's, then
// the metadata that makes it the part, recording the rows, the CSV's size
// and digest, the JSON's size and the Parquet file (known only now, so
// that a manifest can be built from the store alone). If another writer
// stored the part first, Close drops this one and returns that part, with
// ErrPartStored. On an error, what it stored is removed, unless its
// metadata may yet be stored (a publish that had no answer).
func (w *PartWriter) Close(rows int64) (StoredPart, error) {
	w.done = true
	sp, err := w.close(rows)
	if err != nil && !w.maybeStored {
		w.dropChunks()
	}
	return sp, err
}

func (w *PartWriter) close(rows int64) (StoredPart, error) {
	var pq *jetstream.ObjectInfo
	var pqSize int64 = -1
	var pqFooter, pqSum string
	if w.parquet != nil {
		var err error
		if pq, pqSize, pqFooter, pqSum, err = w.parquet.close(); err != nil {
			w.csv.abort(err)
			return StoredPart{}, err
		}
	}
	info, err := w.csv.close(true)
	if err != nil {
		return StoredPart{}, err
	}
	sp := StoredPart{Rows: rows, Bytes: w.csv.n, SHA256: hex.EncodeToString(w.sum.Sum(nil)), Encoding: EncodingS2,
		Stored: int64(info.Size), JSON: w.jsonSize, Observations: w.observations,
		Parquet: pqSize, ParquetFooter: pqFooter, ParquetSHA256: pqSum}
	md := info.Metadata
	md[MetaRows], md[MetaSize], md[MetaSHA256] = strconv.FormatInt(sp.Rows, 10), strconv.FormatInt(sp.Bytes, 10), sp.SHA256
	if w.jsonSize >= 0 {
		md[MetaJSONSize] = strconv.FormatInt(w.jsonSize, 10)
		md[MetaObservations] = strconv.FormatInt(w.observations, 10)
	}
	if pq != nil {
		md[MetaParquetSHA256] = pqSum
		md[MetaParquetSize] = strconv.FormatInt(pqSize, 10)
		md[MetaParquetFooter] = base64.StdEncoding.EncodeToString([]byte(pqFooter))
		md[MetaParquetNUID], md[MetaParquetChunks] = pq.NUID, strconv.FormatUint(uint64(pq.Chunks), 10)
		md[MetaParquetStored] = strconv.FormatUint(pq.Size, 10)
	}
	if b := w.b; b.Config.Replicas > 1 {
		for _, in := range []*jetstream.ObjectInfo{pq, info} {
			if in == nil {
				continue
			}
			if err := b.verifyPart(w.csv.ctx, in); err != nil {
				return StoredPart{}, err
			}
		}
	}
	return w.commit(info, sp)
}

// Abort stops storing the part, with err as the reason its stores see,
// waits until they have stopped and removes what they stored. After Close
// it does nothing.
func (w *PartWriter) Abort(err error) {
	if w.done {
		return
	}
	w.done = true
	if w.parquet != nil {
		w.parquet.obj.abort(err)
	}
	w.csv.abort(err)
	w.dropChunks()
}

// objectWriter compresses what is written to it into an object's chunks,
// published by a goroutine of its own (putChunks), started by the first
// byte: an object of no bytes is stored only if asked for (close(true)).
type objectWriter struct {
	ctx  context.Context
	b    *Bus
	meta jetstream.ObjectMeta
	info *jetstream.ObjectInfo // nil until started
	zw   *s2.Writer
	pw   *io.PipeWriter
	done chan error // nil until started
	err  *error     // once received from done
	n    int64      // bytes written, before compression
}

func (b *Bus) newObjectWriter(ctx context.Context, name string, part int) *objectWriter {
	return &objectWriter{ctx: ctx, b: b, meta: jetstream.ObjectMeta{Name: name,
		Metadata: map[string]string{MetaEncoding: EncodingS2, MetaPart: strconv.Itoa(part)},
		Opts:     &jetstream.ObjectMetaOptions{ChunkSize: b.chunkSize()}}}
}

func (o *objectWriter) start() {
	pr, pw := io.Pipe()
	o.pw, o.done = pw, make(chan error, 1)
	o.info = &jetstream.ObjectInfo{ObjectMeta: o.meta, Bucket: ResultBucket, NUID: nuid.Next()}
	o.zw = s2.NewWriter(pw, s2.WriterConcurrency(1), s2.WriterBlockSize(partBlock))
	// The chunks' publishes are not cancelled with the part: the part's
	// end reaches them through the pipe instead (abort fails its read,
	// close ends it), and putChunks returns only when every chunk it sent
	// is acknowledged or failed, so that purging the object's subject
	// then leaves none of them in the store, no object's, counted against
	// its limit (TestCancelMidPartFreesStorage: 1 MiB a cancelled part).
	go func() {
		err := o.b.putChunks(o.info, fullChunks{pr})
		pr.CloseWithError(io.ErrClosedPipe) // a put that stopped early stops the writer too
		o.done <- storeError(err)
	}()
}

// write compresses p into the object. When the put has failed, its error
// is the one returned.
func (o *objectWriter) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if o.done == nil {
		o.start()
	}
	o.n += int64(len(p))
	if _, err := o.zw.Write(p); err != nil {
		o.pw.CloseWithError(err)
		if perr := o.wait(); perr != nil {
			return perr
		}
		return err
	}
	return nil
}

// wait waits for the put to return.
func (o *objectWriter) wait() error {
	if o.err == nil {
		err := <-o.done
		o.err = &err
	}
	return *o.err
}

// close flushes the object and waits for its chunks. Nothing written and
// not always: nothing stored, and a nil info.
func (o *objectWriter) close(always bool) (*jetstream.ObjectInfo, error) {
	if o.done == nil {
		if !always {
			return nil, nil
		}
		o.start()
	}
	err := o.zw.Close()
	o.pw.CloseWithError(err) // nil: EOF
	if perr := o.wait(); perr != nil {
		return nil, perr
	}
	return o.info, err
}

// abort fails the object's put with err and waits for it.
func (o *objectWriter) abort(err error) {
	if o.done == nil {
		return
	}
	if err == nil {
		err = io.ErrClosedPipe
	}
	o.pw.CloseWithError(err)
	o.wait()
}

// verifyPart reads a just-stored part's chunks back, before its commit,
// and compares their digest with the one taken while storing them. On a
// replicated store, a chunk published during a stream leader election gets
// "no responders", and nats.go's async publish retries it by publishing
// the same *nats.Msg again, whose Data the object store's Put had
// meanwhile refilled with a later chunk: Put succeeded and the object held
// wrong bytes (seen in internal/faults TestNATSNodeDown as downloads with
// rows cut or out of order). putChunks keeps a chunk's buffer until its
// ack; the check stays for what else a failover does to chunks just sent.
// A part that fails it is Unavailable, so it is redone.
func (b *Bus) verifyPart(ctx context.Context, info *jetstream.ObjectInfo) error {
	r, err := b.openChunks(ctx, info)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return unavailable("verify part", err)
	}
	if got := jetstream.GetObjectDigestValue(h); got != info.Digest {
		return unavailable("verify part", fmt.Errorf("%s stored with digest %s, want %s", info.Name, got, info.Digest))
	}
	return nil
}

// chunkSize is the object store chunk for parts: large, since every chunk
// is a message with its own costs on the way in and out, but at most half
// the server's max payload (1 MiB by default on a nats-server of its own).
func (b *Bus) chunkSize() uint32 {
	if mp := b.nc.MaxPayload() / 2; mp > 0 && mp < MaxChunkSize {
		return uint32(mp)
	}
	return MaxChunkSize
}

// partInfo returns a stored part's object info.
func (b *Bus) partInfo(ctx context.Context, ticket string, part int) (*jetstream.ObjectInfo, error) {
	return objectInfo(ctx, b.results, schema.PartObject(ticket, part))
}

func objectInfo(ctx context.Context, store jetstream.ObjectStore, name string) (*jetstream.ObjectInfo, error) {
	info, err := store.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, schema.Errorf(schema.NotFound, "the result of this job is no longer stored")
	}
	if err != nil {
		return nil, unavailable("part info", err)
	}
	return info, nil
}

// DeleteParts removes a job's stored parts; missing ones are fine.
func (b *Bus) DeleteParts(ctx context.Context, ticket string, parts int) error {
	for i := 1; i <= parts; i++ {
		if err := b.DeletePart(ctx, ticket, i); err != nil {
			return err
		}
	}
	return nil
}

// DeletePart removes one stored part, its Parquet file too; missing ones
// are fine. (A part stored with a JSON object, by an exporter from before
// parts were stored once, leaves that object in export_results_json, no
// longer read, to age out with the store's retention.)
func (b *Bus) DeletePart(ctx context.Context, ticket string, part int) error {
	if err := b.deleteObject(ctx, schema.PartObject(ticket, part)); err != nil {
		return err
	}
	// A Parquet file stored before the part's metadata recorded it was an
	// object of its own.
	return b.deleteObject(ctx, ParquetObject(ticket, part))
}

// fullChunks makes each of putChunks's reads a whole chunk: it publishes
// what one Read returns as one chunk, and a read of the pipe
// returns one S2 block (about 35 KB of CSV's 256 KiB), so a part was
// thousands of small messages, each written, acknowledged and hashed on
// its own by the server.
type fullChunks struct{ r io.Reader }

func (f fullChunks) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

package gateway

import (
	"bytes"
	"io"

	"github.com/klauspost/compress/s2"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// A CSV download may be sent with Content-Encoding: s2, to a client that
// names s2 in Accept-Encoding (exportd get does): its parts are stored as
// S2 streams of their CSV, and each is sent as stored, without decoding,
// after the file's head line encoded as an S2 stream of its own. S2
// streams decode as one when concatenated (a stream identifier may come
// again at any chunk), so the body is one S2 stream of exactly the identity
// file's bytes. It is about a seventh of the bytes through the connection
// (CSV of sensor readings), and none of the S2 decoding an identity
// download costs the gateway. A part stored before compression is encoded
// as it is sent. Only whole responses and followed downloads are so coded: a range
// is of the identity bytes, and a ranged request gets those.

// codingS2 is the content coding of an S2 stream (klauspost/compress/s2's
// framing, a superset of Snappy's).
const codingS2 = "s2"

// downloadCoding is the content coding a download of format is sent
// with, for a request's Accept-Encoding: "s2" for CSV when s2 is named
// with a quality above zero and not below gzip's, else "gzip" when gzip
// is acceptable and format not Parquet (compressed already), else ""
// (identity). s2 is never taken from "*": few clients that send it can
// decode S2.
func downloadCoding(format, header string) string {
	if format == schema.FormatParquet {
		return ""
	}
	gz := acceptsGzip(header)
	if format == schema.FormatCSV {
		if q, named := codingQ(header, codingS2); named && q > 0 && (!gz || q >= gzipQ(header)) {
			return codingS2
		}
	}
	if gz {
		return "gzip"
	}
	return ""
}

// s2Stream is p as an S2 stream of its own, to be followed by others.
func s2Stream(p []byte) []byte {
	var buf bytes.Buffer
	zw := s2.NewWriter(&buf, s2.WriterConcurrency(1), s2.WriterBlockSize(max(4<<10, min(len(p), 4<<20))))
	_, _ = zw.Write(p) // a bytes.Buffer does not fail
	_ = zw.Close()
	return buf.Bytes()
}

// csvHeadS2 is the CSV head line as an S2 stream.
var csvHeadS2 = s2Stream([]byte(schema.CSVHeader))

// literalS2 is a literal segment as an S2 stream.
func literalS2(p []byte) []byte {
	if string(p) == schema.CSVHeader {
		return csvHeadS2
	}
	return s2Stream(p)
}

// sendS2 sends a part's segment as an S2 stream: as stored when it is the
// whole of a compressed part, else encoded as it is sent.
func (b *layoutBody) sendS2(w io.Writer, s result.Segment, r *events.PartReader) error {
	if r.Compressed() && s.Offset == 0 && s.ToEnd {
		_, err := r.WriteStoredTo(w)
		return err
	}
	zw := s2.NewWriter(w, s2.WriterConcurrency(1), s2.WriterBlockSize(256<<10))
	if err := b.sendStored(zw, s, r); err != nil {
		return err
	}
	return zw.Close()
}

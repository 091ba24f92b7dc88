package chstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
)

// nativeRevision is the revision of the native protocol the export reader
// speaks, ClickHouse 18.16's: a server never answers in a newer form than
// its client announced, so 18.16 and current releases send exactly the
// packets below. (ch-go's own client cannot talk to 18.16: below revision
// 54420 it leaves out the client info 18.16 reads, and the server then
// takes the query's bytes for settings, UNKNOWN_SETTING.)
const nativeRevision = 54413

// nativeReadBuffer is how much of the socket is read at a time.
const nativeReadBuffer = 256 << 10

// nativeConn is one connection of ClickHouse's native protocol that runs
// one SELECT and reads its blocks column by column into ch-go's columns,
// which keep their memory from block to block (strings in strCol): no
// value is allocated per row, where clickhouse-go's Scan made a Go string
// of every String value.
// Everything but exports still goes through clickhouse-go.
type nativeConn struct {
	conn net.Conn
	br   *bufio.Reader // under r, which buffers nothing of its own
	r    *proto.Reader
	out  proto.Buffer
}

// dialNative connects to addr and says hello for database db.
func dialNative(ctx context.Context, addr, db string) (*nativeConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, nativeReadBuffer)
	c := &nativeConn{conn: conn, br: br, r: proto.NewReader(br)}
	proto.ClientHello{Name: "exportd", Major: 1, ProtocolVersion: nativeRevision, Database: db, User: "default"}.Encode(&c.out)
	if err := c.flush(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	code, err := c.code()
	if err == nil {
		switch code {
		case proto.ServerCodeHello:
			var h proto.ServerHello
			err = h.DecodeAware(c.r, nativeRevision)
		case proto.ServerCodeException:
			err = c.exception()
		default:
			err = fmt.Errorf("native: unexpected packet %d in hello", code)
		}
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// flush writes what was encoded, within ctx's deadline if it has one.
func (c *nativeConn) flush(ctx context.Context) error {
	deadline, _ := ctx.Deadline()
	c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write(c.out.Buf)
	c.out.Reset()
	return err
}

// query sends body, the query of revision nativeRevision: client info
// as 18.16 reads it, no settings, no external tables.
func (c *nativeConn) query(ctx context.Context, body string) error {
	b := &c.out
	proto.ClientCodeQuery.Encode(b)
	b.PutString("") // the server names the query
	proto.ClientInfo{
		ProtocolVersion: nativeRevision, Major: 1, Interface: proto.InterfaceTCP,
		Query: proto.ClientQueryInitial, InitialAddress: c.conn.LocalAddr().String(), ClientName: "exportd",
	}.EncodeAware(b, nativeRevision)
	b.PutString("") // end of settings
	proto.StageComplete.Encode(b)
	proto.CompressionDisabled.Encode(b)
	b.PutString(body)
	// The end of external data: an empty block.
	proto.ClientCodeData.Encode(b)
	proto.ClientData{}.EncodeAware(b, nativeRevision)
	proto.Block{}.EncodeAware(b, nativeRevision)
	return c.flush(ctx)
}

// next reads packets until a block with rows, decoded into cols, and
// returns its row count; 0 and io.EOF at the end of the result, an error
// for a server exception (*clickhouse.Exception) or a broken connection.
func (c *nativeConn) next(cols proto.Results) (int, error) {
	for {
		code, err := c.code()
		if err != nil {
			return 0, err
		}
		switch code {
		case proto.ServerCodeData, proto.ServerCodeTotals, proto.ServerCodeExtremes:
			if _, err := c.r.Str(); err != nil { // the temporary table's name
				return 0, err
			}
			var block proto.Block
			if err := block.DecodeBlock(c.r, nativeRevision, cols); err != nil {
				return 0, fmt.Errorf("native: decode block: %w", err)
			}
			if code == proto.ServerCodeData && block.Rows > 0 {
				return block.Rows, nil
			}
		case proto.ServerCodeException:
			return 0, c.exception()
		case proto.ServerCodeProgress:
			var p proto.Progress
			if err := p.DecodeAware(c.r, nativeRevision); err != nil {
				return 0, err
			}
		case proto.ServerCodeProfile:
			var p proto.Profile
			if err := p.DecodeAware(c.r, nativeRevision); err != nil {
				return 0, err
			}
		case proto.ServerCodeEndOfStream:
			return 0, io.EOF
		default:
			return 0, fmt.Errorf("native: unexpected packet %d", code)
		}
	}
}

// code reads the next packet's code. No read deadline: an export waits on
// the slowest reader of its part (the object store), as long as it takes.
func (c *nativeConn) code() (proto.ServerCode, error) {
	v, err := c.r.UVarInt()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return proto.ServerCode(v), nil
}

// exception reads a server exception as clickhouse-go's type, so that
// translate judges it as it judges the driver's. (18.16 may send nested
// exceptions after it; the connection is not used again.)
func (c *nativeConn) exception() error {
	var ex proto.Exception
	if err := ex.DecodeAware(c.r, nativeRevision); err != nil {
		return err
	}
	return &clickhouse.Exception{Code: int32(ex.Code), Name: ex.Name, Message: ex.Message, StackTrace: ex.Stack}
}

// close ends the connection; a query still running is abandoned, and the
// server stops it when it next writes.
func (c *nativeConn) close() error { return c.conn.Close() }

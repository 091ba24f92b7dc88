// Package chstore owns ClickHouse: every read and write of observations and
// metadata goes through it, over clickhouse-go's native protocol, with SQL
// that runs on ClickHouse 18.16 and on current releases. Identifiers from a
// request reach it only after schema.ParseQuery checked them against the
// network's metadata, and always as bound parameters.
package chstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/plenario-next/exportd/schema"
)

// Defaults for Config.
const (
	DefaultAddr     = "127.0.0.1:19000"
	DefaultDatabase = "exportd"
	DefaultMaxConns = 16
)

// Config says where ClickHouse is.
type Config struct {
	Addr     string // host:port of the native protocol
	Database string
	MaxConns int
	// Settings are ClickHouse settings of every query (e.g. max_threads);
	// tests make queries slow with them (max_block_size: 1).
	Settings map[string]any
}

// Store is a handle on exportd's ClickHouse database.
type Store struct {
	conn driver.Conn
	addr string // for the export reader's own connections (nativeConn)
	db   string
	// the names export reads have seen, by network (OpenStoredSlice)
	codes nameCodes
	// hourly: observations_hourly holds every row (migrateHourly), so
	// /aggregate may read it
	hourly bool
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects, creates the database and tables when missing, and returns
// the Store.
func Open(ctx context.Context, c Config) (*Store, error) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if !dbNameRE.MatchString(c.Database) {
		return nil, fmt.Errorf("chstore: bad database name %q", c.Database)
	}
	boot, err := clickhouse.Open(&clickhouse.Options{Addr: []string{c.Addr}, DialTimeout: 5 * time.Second, MaxOpenConns: 1})
	if err != nil {
		return nil, translate(err)
	}
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+c.Database)
	boot.Close()
	if err != nil {
		return nil, translate(fmt.Errorf("create database: %w", err))
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:         []string{c.Addr},
		Auth:         clickhouse.Auth{Database: c.Database},
		DialTimeout:  5 * time.Second,
		MaxOpenConns: c.MaxConns,
		MaxIdleConns: c.MaxConns,
		ReadTimeout:  10 * time.Minute,
		Settings:     clickhouse.Settings(c.Settings),
	})
	if err != nil {
		return nil, translate(err)
	}
	s := &Store{conn: conn, addr: c.Addr, db: c.Database}
	for _, stmt := range schema.DDL() {
		if err := conn.Exec(ctx, stmt); err != nil && !(schema.IsAddColumn(stmt) && columnExists(err)) {
			conn.Close()
			return nil, translate(fmt.Errorf("apply schema: %w", err))
		}
	}
	if err := s.migrateHourly(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }

// Database is the database the Store uses.
func (s *Store) Database() string { return s.db }

// Ping checks that ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error { return translate(s.conn.Ping(ctx)) }

// DropDatabase removes the Store's database: for tests.
func (s *Store) DropDatabase(ctx context.Context) error {
	return translate(s.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.db))
}

// columnExists reports whether err is ClickHouse refusing to add a column
// the table already has (ILLEGAL_COLUMN, 44, on 18.16 and current releases).
func columnExists(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == 44 && strings.Contains(ex.Message, "already exists")
}

// translate turns driver errors into schema errors: a dependency that is
// down or slow is Unavailable (retry later), a server exception is Internal.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var se *schema.Error
	if errors.As(err, &se) {
		return err
	}
	var ex *clickhouse.Exception
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, clickhouse.ErrAcquireConnTimeout), errors.As(err, &ne):
		return schema.Wrap(schema.Unavailable, "ClickHouse is unavailable", err)
	case errors.As(err, &ex):
		if ex.Code == 159 { // TIMEOUT_EXCEEDED: max_execution_time
			return schema.Wrap(schema.Unavailable, "ClickHouse is overloaded", fmt.Errorf("%w: %w", ErrTimeLimit, err))
		}
		if ex.Code == 241 || ex.Code == 202 { // memory limit, too many queries
			return schema.Wrap(schema.Unavailable, "ClickHouse is overloaded", err)
		}
		return schema.Wrap(schema.Internal, "ClickHouse query failed", err)
	case strings.Contains(err.Error(), "connection refused"), strings.Contains(err.Error(), "broken pipe"):
		return schema.Wrap(schema.Unavailable, "ClickHouse is unavailable", err)
	}
	return schema.Wrap(schema.Internal, "ClickHouse query failed", err)
}

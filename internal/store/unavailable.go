package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"portal"
)

// unavailable reports whether err says the database is away, read-only or
// out of space: a condition of the service, not of the request, which the
// client should retry later (503) rather than a fault of Portal (500).
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *portal.Error
	if errors.As(err, &pe) {
		return false
	}
	if errors.Is(err, errTimeout) {
		// The store's own bound (not a caller that gave up): the
		// database stopped answering.
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch c := pgErr.Code; {
		case len(c) == 5 && c[:2] == "08": // connection exception
			return true
		case c == "57P01", c == "57P02", c == "57P03": // admin shutdown, crash shutdown, cannot connect now
			return true
		case c == "53100", c == "53300": // disk full, too many connections
			return true
		case c == "25006": // read-only SQL transaction
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return true
		case sqlite3.SQLITE_BUSY: // still locked after the busy timeout (10 s)
			return true
		}
		return false
	}
	var netErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, driver.ErrBadConn):
		// A PostgreSQL connection cut mid-statement.
		return true
	}
	return false
}

// classify turns an error that says the database is away into
// portal.EUNAVAILABLE, keeping it as the cause for the log.
func classify(err error) error {
	if unavailable(err) {
		return portal.Unavailable(err)
	}
	return err
}

package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/fault"
)

// FileName is the store's file inside the data directory.
const FileName = "callverify.db"

// IndexSnapshotFile is the blocklist index's snapshot beside the store
// (blocklist.Follow.Snapshot): a cache, checked against the store's change
// log at start, that may be deleted at any time.
const IndexSnapshotFile = "blocklist-index.snap"

// Open opens (creating if needed) the store in dataDir. It fails fast with a
// clear error when another process holds the file.
func Open(dataDir string) (*bolt.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the data directory is in use by another callverifyd", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Ping reports whether the store can be read, for readiness checks.
func Ping(ctx context.Context, db *bolt.DB) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return fault.Unavailable(err)
	}
	return nil
}

// storeErr turns an engine error into fault.ErrUnavailable, leaving the
// domain's own faults and context errors as they are.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var f *fault.Error
	if errors.As(err, &f) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	for _, kind := range []error{fault.ErrNotFound, fault.ErrAlreadyExists, fault.ErrConflict,
		fault.ErrFailedPrecondition, fault.ErrInvalidArgument, fault.ErrResourceExhausted, fault.ErrUnavailable} {
		if errors.Is(err, kind) {
			return err
		}
	}
	return fault.Unavailable(err)
}

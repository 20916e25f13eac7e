package blocklist

import (
	"context"
	"io"
)

// SnapshotStore keeps the index snapshot (index_snapshot.go) where every
// instance of a shared store finds it: on Redis, beside the store, since an
// instance there may have no disk of its own and a new one starts from
// what any other wrote. The snapshot is checked as one read from a file
// is (its checksum, its last change against the store's log), so a store
// of snapshots need not be trusted: a missing, torn, older or foreign one
// only makes the start scan.
type SnapshotStore interface {
	// LoadSnapshot returns the latest snapshot saved whole; an error
	// (none saved, a part gone, the store unreachable) makes the caller
	// scan.
	LoadSnapshot(ctx context.Context) ([]byte, error)
	// SaveSnapshot replaces the saved snapshot with the one write
	// produces, which holds every change up to seq, whole or not at all.
	// It may decline without calling write and say false: another
	// instance is writing one now, or the saved one already holds seq.
	SaveSnapshot(ctx context.Context, seq uint64, write func(io.Writer) error) (bool, error)
}

// Package retention is the housekeeping that deletes what the service no
// longer needs to keep: calls past their retention after expiry, and old
// customers' reports. A Sweeper runs in its own goroutine, off the request
// path, and asks each store to prune in bounded steps (one transaction each,
// so no step holds the write lock long); each step that deletes anything
// records itself in the audit log as the system, in the same step.
//
// It never decides what may be deleted: the stores' Prune methods say that.
// A backend with native expiry may make them no-ops.
package retention

// Package boltstore is the embedded default backend: every domain Store on
// one bbolt file in the data directory. Each write is one bbolt transaction,
// fsynced before it returns, so nothing acknowledged is lost on a crash;
// concurrent writes of the hot paths share a transaction and its fsync
// (group commit, commit.go), and still return only after it.
//
// Call records are protobuf (internal/recordpb); the JSON ones written
// before still read. Never change a stored format without reading the old
// one and a test that proves it on a record written in that format.
//
// Bucket names are prefixed by domain ("verify/", "blocklist/", "audit/").
// Store keys for customers' identities are derived in one place so that they
// can be HMAC'd without touching the domains.
package boltstore

// Package boltstore is the embedded default backend: every domain Store on
// one bbolt file in the data directory. Each write is one bbolt transaction,
// fsynced before it returns, so nothing acknowledged is lost on a crash.
//
// Bucket names are prefixed by domain ("verify/", "blocklist/", "audit/").
// Store keys for customers' identities are derived in one place so that they
// can be HMAC'd without touching the domains.
package boltstore

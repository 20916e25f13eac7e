//go:build !linux

package boltstore

import bolt "go.etcd.io/bbolt"

// evictMapped leaves the pages resident where madvise is not at hand.
func evictMapped(*bolt.Tx) {}

package boltstore

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// evictMapped drops the store file's pages from this process's resident
// memory (they stay in the page cache, and a later read maps them again).
// bbolt reads through a shared read-only mapping of the whole file, so a
// full scan would otherwise leave the whole file counted in VmRSS for as
// long as the process runs. Called inside a transaction, which keeps the
// mapping in place; a failure only leaves the pages resident.
func evictMapped(tx *bolt.Tx) {
	info := tx.DB().Info()
	size := uintptr(tx.Size())
	if info.Data == 0 || size == 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, info.Data, size, syscall.MADV_DONTNEED)
}

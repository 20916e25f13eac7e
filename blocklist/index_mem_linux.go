package blocklist

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on amd64 and arm64.
const hugePage = 2 << 20

// makeSlots returns a zeroed slice of n bytes for a table's slots. A big
// table is read at random, one bucket a lookup, so with 4 KB pages nearly
// every lookup also misses the TLB and walks the page tables (in a virtual
// machine, two sets of them): a cost as large as the read itself. So a
// slice of several huge pages is allocated with room to align, and its
// aligned part is advised to the kernel as huge-page memory (Go's heap is
// not, where transparent huge pages are "madvise" only). It stays Go
// memory, freed by the collector; the advice is best effort.
func makeSlots(n int) []byte {
	if n < 4*hugePage {
		return make([]byte, n)
	}
	buf := make([]byte, n+hugePage)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	off := int((hugePage - p%hugePage) % hugePage)
	s := buf[off : off+n : off+n]
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, p+uintptr(off), uintptr(n/hugePage*hugePage), syscall.MADV_HUGEPAGE)
	return s
}

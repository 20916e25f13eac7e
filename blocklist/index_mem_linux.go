//go:build linux

package blocklist

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms Go
// runs Linux on with 4 KiB base pages (amd64, arm64 with 4 KiB pages).
const hugePage = 2 << 20

// mapHuge returns size zeroed bytes, rounded up to whole huge pages and
// aligned to one, in an anonymous mapping the kernel is asked to back with
// transparent huge pages (madvise; it may not, when THP is off or memory
// is fragmented, and the memory is then ordinary pages). mapping is what
// unmapHuge must be given to release it.
func mapHuge(size int) (mem, mapping []byte, err error) {
	size = (size + hugePage - 1) &^ (hugePage - 1)
	// A huge page more than needed, so that an aligned stretch fits; the
	// unaligned ends are never touched, so they take no memory.
	mapping, err = unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil, err
	}
	off := -int(uintptr(unsafe.Pointer(unsafe.SliceData(mapping)))) & (hugePage - 1)
	mem = mapping[off : off+size : off+size]
	if err := unix.Madvise(mem, unix.MADV_HUGEPAGE); err != nil {
		unix.Munmap(mapping)
		return nil, nil, err
	}
	return mem, mapping, nil
}

func unmapHuge(mapping []byte) { unix.Munmap(mapping) }

//go:build !linux

package blocklist

// makeSlots returns a zeroed slice of n bytes for a table's slots.
func makeSlots(n int) []byte { return make([]byte, n) }

//go:build !linux

package blocklist

import "errors"

// mapHuge is Linux only; elsewhere tables stay on the Go heap.
func mapHuge(int) (mem, mapping []byte, err error) {
	return nil, nil, errors.New("no huge pages on this platform")
}

func unmapHuge([]byte) {}

// Package unixnano is how the stores' protobuf records hold a time: Unix
// nanoseconds in an optional field, absent for the zero time.
package unixnano

import "time"

// FromTime is t as Unix nanoseconds, nil for the zero time.
func FromTime(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// ToTime is FromTime's inverse, in UTC.
func ToTime(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

package unixnano_test

import (
	"testing"
	"time"

	"github.com/callverify/callverify/internal/store/unixnano"
)

func TestRoundTrip(t *testing.T) {
	for _, in := range []time.Time{
		{},
		time.Unix(0, 0),
		time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("CST", 8*3600)),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
	} {
		got := unixnano.ToTime(unixnano.FromTime(in))
		if !got.Equal(in) || (!got.IsZero() && got.Location() != time.UTC) {
			t.Errorf("%v: read back as %v", in, got)
		}
	}
	if unixnano.FromTime(time.Time{}) != nil {
		t.Error("the zero time is stored")
	}
}

package boltstore

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
)

// TestDecodedOfficialsAreTheRecordsBytes: a remembered decoding is the
// decoding of exactly those bytes (a record written again, with a new
// generation, decodes anew), and the memory stays bounded.
func TestDecodedOfficialsAreTheRecordsBytes(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	encode := func(i int, gen string) []byte {
		t.Helper()
		v, err := json.Marshal(officialRecord{Number: fmt.Sprintf("+86400800%04d", i), DisplayName: "Service",
			Direction: int(blocklist.DirectionOutbound), CreateTime: at, Gen: gen})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	decode := func(v []byte) blocklist.OfficialNumber {
		t.Helper()
		o, err := decodeOfficial(v)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	first := encode(1, "gen-1")
	if a, b := decode(first), decode(first); a != b || a.Gen != "gen-1" || !a.CreateTime.Equal(at) {
		t.Fatalf("decoded twice: %+v and %+v, want the record with gen-1", a, b)
	}
	if again := decode(encode(1, "gen-2")); again.Gen != "gen-2" {
		t.Fatalf("the record written again decodes with Gen %q, want gen-2", again.Gen)
	}
	for i := range 3 * maxDecodedOfficials {
		if o := decode(encode(i, "g")); string(o.Number) != fmt.Sprintf("+86400800%04d", i) {
			t.Fatalf("record %d decoded as %+v", i, o)
		}
	}
	decodedOfficials.mu.RLock()
	n := len(decodedOfficials.m)
	decodedOfficials.mu.RUnlock()
	if n > maxDecodedOfficials {
		t.Fatalf("%d decodings remembered, want at most %d", n, maxDecodedOfficials)
	}
	if _, err := decodeOfficial([]byte("{not json")); err == nil {
		t.Fatal("a record that is not JSON decoded")
	}
}

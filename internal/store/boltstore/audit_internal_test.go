package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/internal/audit"
)

// TestLargeAuditEventsAreStoredDeflated: an import batch's event, which
// lists its patterns, is stored compressed and reads back as it was
// written; a small event is stored as its JSON, as older versions wrote
// every event, and reads back too.
func TestLargeAuditEventsAreStoredDeflated(t *testing.T) {
	t.Parallel()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	patterns := make([]any, 1000)
	for i := range patterns {
		patterns[i] = fmt.Sprintf("+86138%08d", i*7919)
	}
	large := audit.Event{Time: t0, Actor: "analyst-1", Role: "analyst", Action: "entry.import", Target: "blocklist",
		After: map[string]any{"import_id": "0123456789abcdef", "batch": float64(1), "created_patterns": patterns}}
	small := audit.Event{Time: t0, Actor: "analyst-1", Role: "analyst", Action: "entry.create", Target: "blocklist",
		After: map[string]any{"pattern": "+8613800138000"}}
	ctx := context.Background()
	var want []audit.Event
	// Two large events: the listing's second inflates with the first's
	// reader, reset.
	large2 := large
	large2.After = map[string]any{"import_id": "0123456789abcdef", "batch": float64(2), "created_patterns": patterns[1:]}
	for _, e := range []audit.Event{small, large, large2} {
		got, err := s.AppendAuditEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]audit.Event{got}, want...) // newest first
	}
	stored := map[string][]byte{}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAudit).ForEach(func(k, v []byte) error {
			stored[fmt.Sprintf("%x", k)] = append([]byte(nil), v...)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range want[:2] {
		plain, _ := json.Marshal(e)
		if v := stored[e.ID]; len(v) == 0 || v[0] != auditDeflated || len(v) > len(plain)/2 {
			t.Errorf("an import event is stored in %d bytes (%.8q...); want it deflated to under half its %d bytes of JSON",
				len(v), v, len(plain))
		}
	}
	if v := stored[want[2].ID]; len(v) == 0 || v[0] != '{' {
		t.Errorf("the small event is stored as %q, want its JSON", v)
	}
	got, _, err := s.ListAuditEvents(ctx, audit.Filter{}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListAuditEvents = %+v,\nwant %+v", got, want)
	}
}

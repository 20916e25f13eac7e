// Package audittest is the conformance suite for audit.Store backends.
package audittest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callverify/callverify/internal/audit"
)

// Run runs the suite against an empty store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) audit.Store) {
	t.Helper()
	t.Run("AppendAndListNewestFirst", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
		ids := map[string]bool{}
		for i := range 5 {
			actor := "alice"
			if i%2 == 1 {
				actor = "bob"
			}
			e, err := s.AppendAuditEvent(ctx, audit.Event{
				Time: t0.Add(time.Duration(i) * time.Second), Actor: actor, Role: "analyst",
				Action: fmt.Sprintf("act.%d", i%3), Target: fmt.Sprint(i),
				After: map[string]any{"i": float64(i)},
			})
			if err != nil {
				t.Fatal(err)
			}
			if e.ID == "" || ids[e.ID] {
				t.Fatalf("event %d got id %q, want a fresh one", i, e.ID)
			}
			ids[e.ID] = true
		}
		var targets []string
		cursor := ""
		for page := 0; ; page++ {
			evs, next, err := s.ListAuditEvents(ctx, audit.Filter{}, 2, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				targets = append(targets, e.Target)
			}
			if next == "" {
				break
			}
			if page > 5 {
				t.Fatal("paging does not end")
			}
			cursor = next
		}
		if got, want := fmt.Sprint(targets), "[4 3 2 1 0]"; got != want {
			t.Errorf("targets newest first = %s, want %s", got, want)
		}
		bob, _, err := s.ListAuditEvents(ctx, audit.Filter{Actor: "bob"}, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(bob) != 2 || bob[0].Target != "3" || bob[0].After["i"] != float64(3) {
			t.Errorf("bob's events = %+v, want targets 3 and 1 with their snapshots", bob)
		}
		act0, _, err := s.ListAuditEvents(ctx, audit.Filter{Action: "act.0"}, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(act0) != 2 || act0[0].Target != "3" || act0[1].Target != "0" {
			t.Errorf("act.0 events = %+v, want targets 3 and 0", act0)
		}
	})
}

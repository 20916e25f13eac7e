package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

// officialEvent is the audit event a test hands to an official-number write.
func officialEvent(action string) audit.Event {
	return audit.Event{Time: t0, Actor: "admin-1", Role: "admin", Action: action, Target: "test"}
}

// RunOfficialAudit proves that the official-number writes of a backend
// append their audit event in the same atomic step as the change, and that
// a refused write appends none. newStores returns an empty store and the
// audit store its writes append to.
func RunOfficialAudit(t *testing.T, newStores func(t *testing.T) (blocklist.Store, audit.Store)) {
	t.Helper()
	t.Run("OfficialNumberWritesAndTheirEvents", func(t *testing.T) {
		t.Parallel()
		s, as := newStores(t)
		ctx := context.Background()
		events := func(action string) []audit.Event {
			t.Helper()
			evs, _, err := as.ListAuditEvents(ctx, audit.Filter{Action: action}, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			return evs
		}
		o := official("+8657188881234", blocklist.DirectionOutbound)
		create := audit.Event{Time: t0, Actor: "admin-1", Role: "admin", Action: "official_number.create",
			Target: o.Number.String(), After: map[string]any{"direction": "outbound"}}
		if _, err := s.CreateOfficialNumber(ctx, o, t0, create); err != nil {
			t.Fatal(err)
		}
		got := events("official_number.create")
		if len(got) != 1 || got[0].Target != o.Number.String() || got[0].Actor != "admin-1" || got[0].After["direction"] != "outbound" || got[0].ID == "" {
			t.Fatalf("after a create, events = %+v, want exactly the create event with an id", got)
		}
		stored, err := s.GetOfficialNumber(ctx, o.Number)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Gen == "" {
			t.Fatalf("a created official number has no generation")
		}
		if _, err := s.CreateOfficialNumber(ctx, o, t0, create); !errors.Is(err, fault.ErrAlreadyExists) {
			t.Fatalf("second create: %v, want ErrAlreadyExists", err)
		}
		if got := events("official_number.create"); len(got) != 1 {
			t.Fatalf("a refused create appended an event: %d create events, want 1", len(got))
		}

		del := audit.Event{Time: t0, Actor: "admin-1", Role: "admin", Action: "official_number.delete", Target: o.Number.String()}
		if _, _, _, err := s.DeleteOfficialNumber(ctx, "+8695188", t0, del); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("delete of a missing number: %v, want ErrNotFound", err)
		}
		if got := events("official_number.delete"); len(got) != 0 {
			t.Fatalf("a refused delete appended %d events, want none", len(got))
		}
		old, ended, _, err := s.DeleteOfficialNumber(ctx, o.Number, t0, del)
		if err != nil {
			t.Fatal(err)
		}
		want := o
		want.Gen = stored.Gen
		if old != want || ended != 0 {
			t.Fatalf("delete = %+v, %d ended; want %+v, 0", old, ended, want)
		}
		got = events("official_number.delete")
		if len(got) != 1 || got[0].Target != o.Number.String() || got[0].Before["number"] != o.Number.String() ||
			got[0].Before["direction"] != "outbound" || got[0].After["ended_calls"] != float64(0) {
			t.Fatalf("after a delete, events = %+v, want one with the deleted number as Before and ended_calls 0", got)
		}
		if del.After != nil || del.Before != nil {
			t.Fatalf("the store changed the caller's event maps")
		}

		// Registered again, the number has a new generation (whatever Gen
		// the caller passes): its old calls must not verify under it.
		again := o
		again.Gen = stored.Gen
		if _, err := s.CreateOfficialNumber(ctx, again, t0, create); err != nil {
			t.Fatal(err)
		}
		got2, err := s.GetOfficialNumber(ctx, o.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got2.Gen == "" || got2.Gen == stored.Gen {
			t.Fatalf("registered again, the generation is %q, want a new one (not %q)", got2.Gen, stored.Gen)
		}
		list, err := s.ListOfficialNumbers(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Gen != got2.Gen {
			t.Fatalf("ListOfficialNumbers = %+v, want the number with generation %q", list, got2.Gen)
		}
	})
}

package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// TestStampRacingAChangeOfTheLineEndsItsCall: the official number is in
// {P:dir}, the call in its shard, so a change of the caller's record can
// land after CreateCall checked it and before the call exists (where
// EndLine cannot see the call yet). CreateCall reads the record again
// after storing the call: changed (a new gen) or gone, the call is ended
// at once and the stamp fails with ErrFailedPrecondition.
func TestStampRacingAChangeOfTheLineEndsItsCall(t *testing.T) {
	t.Parallel()
	line := phone.Number("+8657188881234")
	for _, tt := range []struct {
		name   string
		change func(ctx context.Context, o officials) error
	}{
		{"re-registered (a new gen)", func(ctx context.Context, o officials) error { return o.AddOfficial(ctx, line, true) }},
		{"deleted", func(ctx context.Context, o officials) error { return o.rdb.Del(ctx, o.key(line)).Err() }},
		{"made inbound-only", func(ctx context.Context, o officials) error {
			return o.rdb.HSet(ctx, o.key(line), "direction", "2").Err()
		}},
	} {
		for _, b := range backends {
			t.Run(tt.name+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				vs, as, o := newStores(t, b.client(t))
				if err := o.AddOfficial(ctx, line, true); err != nil {
					t.Fatal(err)
				}
				now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
				callee := phone.Number("+8613800138000")
				c := verify.Call{ID: vs.NewCallID(callee), Caller: line, Callee: callee, State: verify.StateActive,
					CreateBy: "dialer-1", CreateTime: now, ExpireTime: now.Add(10 * time.Minute)}
				var hookErr error
				redisstore.SetStampedHook(vs, func() { hookErr = tt.change(ctx, o) })
				err := vs.CreateCall(ctx, c, audit.Event{Time: now, Actor: "dialer-1", Action: "call.stamp", Target: c.ID})
				if hookErr != nil {
					t.Fatal(hookErr)
				}
				if !errors.Is(err, fault.ErrFailedPrecondition) {
					t.Fatalf("CreateCall racing a change of its line: %v, want ErrFailedPrecondition", err)
				}
				got, err := vs.GetCall(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != verify.StateEnded || !got.EndTime.Equal(now) {
					t.Fatalf("the racing call is %v (ended %v), want ENDED at %v", got.State, got.EndTime, now)
				}
				if live, _, err := vs.ListCallsFrom(ctx, line, now, "", 10); err != nil || len(live) != 0 {
					t.Fatalf("live calls of the line: %d (%v), want none", len(live), err)
				}
				ends, _, err := as.ListAuditEvents(ctx, audit.Filter{Action: "call.end"}, 10, "")
				if err != nil {
					t.Fatal(err)
				}
				if len(ends) != 1 || ends[0].Target != c.ID || ends[0].Actor != audit.System.Subject {
					t.Fatalf("end events %+v, want one by the system for %s", ends, c.ID)
				}

				// Without a change meanwhile, the same stamp succeeds.
				redisstore.SetStampedHook(vs, nil)
				if err := o.AddOfficial(ctx, line, true); err != nil {
					t.Fatal(err)
				}
				c.ID = vs.NewCallID(callee)
				if err := vs.CreateCall(ctx, c, audit.Event{Time: now, Action: "call.stamp"}); err != nil {
					t.Fatalf("CreateCall with no change of the line: %v", err)
				}
			})
		}
	}
}

// TestAStampWhoseLineChangedAfterItWasStoredIsRefused: StampCall through
// the service, its line registered again between storing the call and the
// store's second read of the record. The call is ended and the stamp is
// refused with the friendly answer, not started again under the same id
// (which would answer ALREADY_EXISTS).
func TestAStampWhoseLineChangedAfterItWasStoredIsRefused(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newLineEnv(t, b.client(t), func(bl *redisstore.BlocklistStore) verify.Directory { return genDirectory{bl} })
			line, alice := phone.Number("+8657188881234"), phone.Number("+8613800138000")
			admin := audit.Actor{Subject: "admin-1", Role: "admin"}
			register := func() error {
				o := blocklist.OfficialNumber{Number: line, DisplayName: "Example", Direction: blocklist.DirectionOutbound, CreateTime: e.clock.Now()}
				_, err := e.bl.CreateOfficialNumber(ctx, o, e.clock.Now(), e.rec.Event(admin, "official_number.create", line.String(), nil, o.Snapshot()))
				return err
			}
			if err := register(); err != nil {
				t.Fatal(err)
			}
			var hookErr error
			changed := false
			redisstore.SetStampedHook(e.vs, func() {
				if changed {
					return
				}
				changed = true
				if _, _, _, hookErr = e.bl.DeleteOfficialNumber(ctx, line, e.clock.Now(), e.rec.Event(admin, "official_number.delete", line.String(), nil, nil)); hookErr == nil {
					hookErr = register()
				}
			})
			_, err := e.svc.StampCall(ctx, audit.Actor{Subject: "dialer-1", Role: "dialer"}, verify.StampRequest{CallerNumber: line.String(),
				CalleeNumber: alice.String(), Reason: verify.ReasonRefund, AgentID: "agent-7", AgentName: "Wang"})
			if hookErr != nil {
				t.Fatal(hookErr)
			}
			if msg, _ := fault.Message(err); !errors.Is(err, fault.ErrFailedPrecondition) || msg != "caller_number is not an official number that may place calls" {
				t.Fatalf("StampCall racing a new registration of its line: %v, want FAILED_PRECONDITION with the friendly message", err)
			}
		})
	}
}

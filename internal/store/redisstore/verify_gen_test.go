package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/clocktest"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// genDirectory is verify.Directory over the Redis numbers store, mapped as
// internal/app's directory maps it (the generation included), with no
// blocklist entries.
type genDirectory struct{ numbers *redisstore.BlocklistStore }

func (d genDirectory) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	o, err := d.numbers.GetOfficialNumber(ctx, n)
	if err != nil {
		return verify.Official{}, err
	}
	return verify.Official{Number: o.Number, DisplayName: o.DisplayName, PlacesCalls: o.Direction.PlacesCalls(),
		InboundOnly: o.Direction == blocklist.DirectionInboundOnly, Gen: o.Gen}, nil
}

func (genDirectory) BlockedCategory(context.Context, phone.Number) (string, bool, error) {
	return "", false, nil
}

// lineEnv is a verify.Service on Redis stores, its directory made over
// their official numbers by dir, and what the line tests use of it.
type lineEnv struct {
	vs    *redisstore.VerifyStore
	bl    *redisstore.BlocklistStore
	rec   *audit.Recorder
	clock *clocktest.Clock
	svc   *verify.Service
}

func newLineEnv(t *testing.T, rdb redis.UniversalClient, dir func(*redisstore.BlocklistStore) verify.Directory) lineEnv {
	t.Helper()
	l := layout(t)
	vs, as, _ := newStoresIn(t, rdb, l)
	// No EndLine: a deleted line's calls are never marked ended.
	bl, err := redisstore.NewBlocklistStore(rdb, redisstore.BlocklistOptions{KeyPrefix: l.Prefix, PseudonymKeys: testRing})
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
	rec := audit.NewRecorder(as, clock.Now)
	parser, err := phone.NewParser("CN")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := verify.NewService(verify.Config{Store: vs, Directory: dir(bl), Audit: rec, Phone: parser, Now: clock.Now, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	return lineEnv{vs: vs, bl: bl, rec: rec, clock: clock, svc: svc}
}

// TestACallOfADeletedLineDoesNotVerifyUnderItsNewRegistration: deleting an
// official number is one script on {P:dir}; its calls are marked ENDED in
// their shards only afterwards (EndLine), which may not have run yet or may
// have failed. Here it never runs (no EndLine), and the line is registered
// again as outbound: the old call is still stored ACTIVE, but it was
// stamped under the old registration's gen, so no verdict counts it.
func TestACallOfADeletedLineDoesNotVerifyUnderItsNewRegistration(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := b.client(t)
			e := newLineEnv(t, rdb, func(bl *redisstore.BlocklistStore) verify.Directory { return genDirectory{bl} })
			vs, bl, rec, clock, svc := e.vs, e.bl, e.rec, e.clock, e.svc
			var (
				line     = phone.Number("+8657188881234")
				alice    = phone.Number("+8613800138000")
				admin    = audit.Actor{Subject: "admin-1", Role: "admin"}
				dialer   = audit.Actor{Subject: "dialer-1", Role: "dialer"}
				customer = audit.Actor{Subject: "cust-alice", Role: "customer"}
			)
			register := func() {
				t.Helper()
				o := blocklist.OfficialNumber{Number: line, DisplayName: "Example", Direction: blocklist.DirectionOutbound, CreateTime: clock.Now()}
				if _, err := bl.CreateOfficialNumber(ctx, o, clock.Now(), rec.Event(admin, "official_number.create", line.String(), nil, o.Snapshot())); err != nil {
					t.Fatal(err)
				}
			}
			stamp := func() verify.Stamped {
				t.Helper()
				st, err := svc.StampCall(ctx, dialer, verify.StampRequest{CallerNumber: line.String(), CalleeNumber: alice.String(),
					Reason: verify.ReasonRefund, AgentID: "agent-7", AgentName: "Wang"})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			checkVerified := func(wantID string) {
				t.Helper()
				res, err := svc.CheckCaller(ctx, alice, line.String(), "")
				if err != nil || res.Verdict != verify.VerdictVerified || res.Call == nil || res.Call.ID != wantID {
					t.Fatalf("CheckCaller: %v (%v), want VERIFIED by call %s", res.Verdict, err, wantID)
				}
			}

			register()
			old := stamp()
			checkVerified(old.Call.ID)
			if _, _, _, err := bl.DeleteOfficialNumber(ctx, line, clock.Now(), rec.Event(admin, "official_number.delete", line.String(), nil, nil)); err != nil {
				t.Fatal(err)
			}
			register()

			// The scenario: the old call is still stored ACTIVE, under the
			// gen of the deleted registration.
			stored, err := vs.GetCall(ctx, old.Call.ID)
			if err != nil {
				t.Fatal(err)
			}
			cur, err := bl.GetOfficialNumber(ctx, line)
			if err != nil {
				t.Fatal(err)
			}
			if stored.State != verify.StateActive || stored.Gen == "" || cur.Gen == "" || stored.Gen == cur.Gen {
				t.Fatalf("old call %v with gen %q, line's gen %q: want ACTIVE under another, known gen", stored.State, stored.Gen, cur.Gen)
			}

			res, err := svc.CheckCaller(ctx, alice, line.String(), "")
			if err != nil || res.Verdict != verify.VerdictOfficialNotCalling || res.Call != nil || res.Code != "" {
				t.Errorf("CheckCaller: %v, call %v (%v), want OFFICIAL_NOT_CALLING and no call", res.Verdict, res.Call != nil, err)
			}
			mine, err := svc.ListMyCalls(ctx, alice, "")
			if err != nil || len(mine) != 0 {
				t.Errorf("ListMyCalls: %d calls (%v), want none", len(mine), err)
			}
			_, _, err = svc.GetConfirmationCode(ctx, dialer, old.Call.ID)
			_, _, errUnknown := svc.GetConfirmationCode(ctx, dialer, "aaaaaaaaaaaaaaaaaaaaaaaaaa")
			msg, _ := fault.Message(err)
			msgUnknown, _ := fault.Message(errUnknown)
			if !errors.Is(err, fault.ErrNotFound) || msg != msgUnknown {
				t.Errorf("GetConfirmationCode: %v, want exactly the answer of an unknown call (%v)", err, errUnknown)
			}
			cr, err := svc.ConfirmCode(ctx, customer, alice, old.Call.ID, old.Code)
			if err != nil || cr != (verify.ConfirmResult{}) {
				t.Errorf("ConfirmCode of the right code: %+v (%v), want the answer of an unknown call", cr, err)
			}
			tr, err := svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: old.Token})
			if err != nil || tr.Valid || tr.Failure != verify.TokenCallEnded {
				t.Errorf("VerifyToken: valid %v failure %v (%v), want CALL_ENDED", tr.Valid, tr.Failure, err)
			}

			// A call stamped under the new registration verifies, alone.
			fresh := stamp()
			checkVerified(fresh.Call.ID)
			mine, err = svc.ListMyCalls(ctx, alice, "")
			if err != nil || len(mine) != 1 || mine[0].Call.ID != fresh.Call.ID {
				t.Fatalf("ListMyCalls: %d calls (%v), want only %s", len(mine), err, fresh.Call.ID)
			}
			if tr, err := svc.VerifyToken(ctx, verify.VerifyTokenRequest{Token: fresh.Token}); err != nil || !tr.Valid {
				t.Fatalf("VerifyToken of the new call: valid %v failure %v (%v), want valid", tr.Valid, tr.Failure, err)
			}
			if _, _, err := svc.GetConfirmationCode(ctx, dialer, fresh.Call.ID); err != nil {
				t.Fatalf("GetConfirmationCode of the new call: %v", err)
			}
		})
	}
}

package callback_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callverify/callverify/callback"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/clocktest"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

var (
	alice = phone.Number("+8613800138000")
	bob   = phone.Number("+8613900139000")
	start = time.Date(2026, 12, 1, 6, 2, 0, 0, time.UTC)
)

type env struct {
	svc   *callback.Service
	store *boltstore.CallbackStore
	clock *clocktest.Clock
}

func newEnv(t *testing.T) env {
	t.Helper()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := boltstore.NewCallbackStore(db)
	if err != nil {
		t.Fatal(err)
	}
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(start)
	svc, err := callback.NewService(callback.Config{Store: st, Audit: audit.NewRecorder(as, clock.Now), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return env{svc: svc, store: st, clock: clock}
}

var customer = audit.Actor{Subject: "u-1", Role: "customer"}

// AnsweredBy is the only way the app says "your callback": the customer's
// own request, CALLED with exactly that call. A request of somebody else,
// a different call, or one not answered is never a callback.
func TestAnsweredByOnlyTheCustomersOwnCalledRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, err := e.svc.Request(ctx, customer, alice, callback.NewRequest{Reason: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.svc.AnsweredBy(ctx, alice, "call-1", r.ID); ok || err != nil {
		t.Fatalf("an open request answered: %v %v", ok, err)
	}
	// Answer it the way CreateCallbackCall does, in the store.
	stored, err := e.store.GetRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Customer != alice || stored.CustomerID != "u-1" || stored.Language != "zh-CN" ||
		!stored.ExpireTime.Equal(start.Add(callback.DefaultTTL)) {
		t.Fatalf("stored request %+v", stored)
	}
	if _, err := e.svc.Claim(ctx, audit.Actor{Subject: "d-1", Role: "dialer"}, r.ID); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		customer    phone.Number
		call, reqID string
	}{
		"another customer": {bob, "call-1", r.ID},
		"a malformed id":   {alice, "call-1", "not-an-id"},
		"no id":            {alice, "call-1", ""},
		"unknown id":       {alice, "call-1", e.store.NewRequestID(alice)},
	} {
		if _, ok, err := e.svc.AnsweredBy(ctx, tc.customer, tc.call, tc.reqID); ok || err != nil {
			t.Errorf("%s: answered %v, %v", name, ok, err)
		}
	}
}

func TestListMineGivesOpenRequestsTheirPlace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Request(ctx, customer, bob, callback.NewRequest{Reason: 1}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	first, err := e.svc.Request(ctx, customer, alice, callback.NewRequest{Reason: 1})
	if err != nil || first.Position != 2 {
		t.Fatalf("alice's first: %+v %v, want position 2", first, err)
	}
	e.clock.Advance(time.Second)
	second, err := e.svc.Request(ctx, customer, alice, callback.NewRequest{Reason: 2, Language: "en-GB"})
	if err != nil || second.Position != 3 || second.Language != "en" {
		t.Fatalf("alice's second: %+v %v", second, err)
	}
	if _, err := e.svc.Claim(ctx, audit.Actor{Subject: "d-1", Role: "dialer"}, first.ID); err != nil {
		t.Fatal(err)
	}
	mine, err := e.svc.ListMine(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 2 || mine[0].ID != second.ID || mine[0].Position != 3 || mine[1].State != callback.StateClaimed || mine[1].Position != 0 {
		t.Fatalf("ListMine = %+v", mine)
	}
	// Cancelling another's, or one's own twice, is the same NotFound.
	if _, err := e.svc.Cancel(ctx, customer, bob, first.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("bob cancels alice's: %v", err)
	}
	if _, err := e.svc.Cancel(ctx, customer, alice, first.ID); err != nil {
		t.Fatalf("alice cancels her claimed request: %v", err)
	}
	_, err = e.svc.Cancel(ctx, customer, alice, first.ID)
	var f *fault.Error
	if !errors.As(err, &f) || f.Msg != "the callback request does not exist or can no longer be cancelled" {
		t.Fatalf("a second cancel: %v", err)
	}
}

func TestAWindowKeepsTheRequestUntilItEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	w := callback.Window{Start: start.Add(47 * time.Hour), End: start.Add(48 * time.Hour)}
	r, err := e.svc.Request(ctx, customer, alice, callback.NewRequest{Reason: 1, Window: w})
	if err != nil {
		t.Fatal(err)
	}
	if !r.ExpireTime.Equal(w.End) || !r.Window.Start.Equal(w.Start) {
		t.Fatalf("request %+v, want it to expire at the window's end", r)
	}
	if _, err := e.svc.Request(ctx, customer, alice, callback.NewRequest{Reason: 1, Window: callback.Window{Start: w.Start}}); !errors.Is(err, fault.ErrInvalidArgument) {
		t.Fatalf("half a window: %v", err)
	}
}

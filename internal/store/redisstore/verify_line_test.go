package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// memoryDirectory is genDirectory with a memory (verify.IndexedDirectory)
// that says what it was last told to remember: a memory that lags.
type memoryDirectory struct {
	genDirectory
	mu  sync.Mutex
	mem map[phone.Number]verify.Official
}

func (d *memoryDirectory) IndexedOfficialNumber(n phone.Number) (verify.Official, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.mem[n]
	if !ok {
		return verify.Official{}, fault.ErrNotFound
	}
	return o, nil
}

func (d *memoryDirectory) remember(t *testing.T, n phone.Number) {
	t.Helper()
	o, err := d.OfficialNumber(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mem[n] = o
}

// TestALiveLineIsCheckedOnItsRecordReadWithItsCalls: the check of a line
// that memory says is live reads the customer's calls and the line's record
// together (ListCallsToWithLine, one pipeline over two slots), and decides
// on that record: a line deleted a moment ago, still live in memory and
// its call not yet marked ended (no EndLine here), never verifies. A script
// that Redis no longer holds (a restart, SCRIPT FLUSH) is loaded again.
func TestALiveLineIsCheckedOnItsRecordReadWithItsCalls(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := b.client(t)
			dir := &memoryDirectory{mem: map[phone.Number]verify.Official{}}
			e := newLineEnv(t, rdb, func(bl *redisstore.BlocklistStore) verify.Directory {
				dir.genDirectory = genDirectory{bl}
				return dir
			})
			vs, bl, rec, clock, svc := e.vs, e.bl, e.rec, e.clock, e.svc
			var (
				line    = phone.Number("+8657188881234")
				hotline = phone.Number("+8695188")
				alice   = phone.Number("+8613800138000")
				admin   = audit.Actor{Subject: "admin-1", Role: "admin"}
				dialer  = audit.Actor{Subject: "dialer-1", Role: "dialer"}
			)
			for n, d := range map[phone.Number]blocklist.Direction{line: blocklist.DirectionOutbound, hotline: blocklist.DirectionInboundOnly} {
				o := blocklist.OfficialNumber{Number: n, DisplayName: "Example", Direction: d, CreateTime: clock.Now()}
				if _, err := bl.CreateOfficialNumber(ctx, o, clock.Now(), rec.Event(admin, "official_number.create", n.String(), nil, o.Snapshot())); err != nil {
					t.Fatal(err)
				}
			}
			st, err := svc.StampCall(ctx, dialer, verify.StampRequest{CallerNumber: line.String(), CalleeNumber: alice.String(),
				Reason: verify.ReasonRefund, AgentID: "agent-7", AgentName: "Wang"})
			if err != nil {
				t.Fatal(err)
			}

			// What the one read says of each kind of number.
			cur, err := bl.GetOfficialNumber(ctx, line)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				caller phone.Number
				want   verify.CallerLine
			}{
				{line, verify.CallerLine{Registered: true, PlacesCalls: true, Gen: cur.Gen}},
				{hotline, verify.CallerLine{Registered: true, InboundOnly: true, Gen: "?"}},
				{"+8613900139000", verify.CallerLine{}},
			} {
				calls, got, err := vs.ListCallsToWithLine(ctx, alice, tc.caller, clock.Now(), 100)
				if err != nil {
					t.Fatal(err)
				}
				if tc.want.Gen == "?" {
					tc.want.Gen = got.Gen
				}
				if got != tc.want || len(calls) != 1 || calls[0].ID != st.Call.ID {
					t.Errorf("ListCallsToWithLine(alice, %s) = %d calls, %+v; want alice's call and %+v", tc.caller, len(calls), got, tc.want)
				}
			}

			check := func(want verify.Verdict) {
				t.Helper()
				res, err := svc.CheckCaller(ctx, alice, line.String(), "")
				if err != nil || res.Verdict != want {
					t.Fatalf("CheckCaller: %v (%v), want %v", res.Verdict, err, want)
				}
			}
			dir.remember(t, line)
			check(verify.VerdictVerified)
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			check(verify.VerdictVerified)

			if _, _, _, err := bl.DeleteOfficialNumber(ctx, line, clock.Now(), rec.Event(admin, "official_number.delete", line.String(), nil, nil)); err != nil {
				t.Fatal(err)
			}
			if c, err := vs.GetCall(ctx, st.Call.ID); err != nil || c.State != verify.StateActive {
				t.Fatalf("the call after the delete: %v (%v); want it still stored ACTIVE, as before EndLine runs", c.State, err)
			}
			check(verify.VerdictUnknown)
		})
	}
}

// callsOnEachBackend runs test on each backend, on a fresh key space
// with its calls store and official numbers.
func callsOnEachBackend(t *testing.T, test func(t *testing.T, rdb redis.UniversalClient, l redisstore.Layout, vs *redisstore.VerifyStore, o officials)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			rdb, l := b.client(t), layout(t)
			vs, _, o := newStoresIn(t, rdb, l)
			test(t, rdb, l, vs, o)
		})
	}
}

// stampFrom stores a call from caller to callee, live for a minute from
// now, and returns its id.
func stampFrom(vs *redisstore.VerifyStore, caller, callee phone.Number, now time.Time) (string, error) {
	id := vs.NewCallID(callee)
	return id, vs.CreateCall(context.Background(), verify.Call{ID: id, Caller: caller, Callee: callee, State: verify.StateActive,
		CreateTime: now, ExpireTime: now.Add(time.Minute)}, audit.Event{Time: now, Action: "call.stamp"})
}

// TestAStampIsIndexedOnItsLineOnlyWhenTheLineHasARecord: the script that
// reads the caller's record indexes the call on its line in the same step,
// and only when there is a record: a stamp from a number with none leaves
// no index entry; one from an inbound-only line is refused (its entry is
// the dangling one nothing counts); one from a live line is indexed.
func TestAStampIsIndexedOnItsLineOnlyWhenTheLineHasARecord(t *testing.T) {
	t.Parallel()
	callsOnEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, l redisstore.Layout, vs *redisstore.VerifyStore, o officials) {
		ctx := context.Background()
		var (
			unknown = phone.Number("+8657100000000")
			inbound = phone.Number("+8640080088881")
			live    = phone.Number("+8657188881234")
			alice   = phone.Number("+8613800138000")
		)
		if err := o.AddOfficial(ctx, inbound, false); err != nil {
			t.Fatal(err)
		}
		if err := o.AddOfficial(ctx, live, true); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		entries := func(n phone.Number) int64 {
			t.Helper()
			c, err := rdb.ZCard(ctx, "{"+l.Prefix+":dir}:line:"+n.String()).Result()
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		for _, n := range []phone.Number{unknown, inbound} {
			if _, err := stampFrom(vs, n, alice, now); !errors.Is(err, fault.ErrFailedPrecondition) {
				t.Fatalf("a stamp from %s: %v, want ErrFailedPrecondition", n, err)
			}
		}
		if _, err := stampFrom(vs, live, alice, now); err != nil {
			t.Fatal(err)
		}
		if u, i, l := entries(unknown), entries(inbound), entries(live); u != 0 || i > 1 || l != 1 {
			t.Fatalf("line index entries: %d of a number with no record (want 0), %d of an inbound-only line (at most 1), %d of a live line (want 1)", u, i, l)
		}
		if calls, err := vs.ListCallsTo(ctx, alice, now, 10); err != nil || len(calls) != 1 || calls[0].Caller != live {
			t.Fatalf("alice's calls: %+v (%v), want the live line's only", calls, err)
		}
	})
}

// TestACallIsReadEvenWhenItsHintedCallersRecordIsNot: GetCallWithLine
// leaves out a record it could not read (here a key of the wrong type, as
// a {P:dir} node failing over would answer an error) and returns the call:
// whether the request may use the call is decided before any record
// matters, so an existing call answers as an unknown one would. CallerLine
// then fails for a call that is used.
func TestACallIsReadEvenWhenItsHintedCallersRecordIsNot(t *testing.T) {
	t.Parallel()
	callsOnEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, l redisstore.Layout, vs *redisstore.VerifyStore, o officials) {
		ctx := context.Background()
		line, broken, alice := phone.Number("+8657188881234"), phone.Number("+8657188889999"), phone.Number("+8613800138000")
		if err := o.AddOfficial(ctx, line, true); err != nil {
			t.Fatal(err)
		}
		id, err := stampFrom(vs, line, alice, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, "{"+l.Prefix+":dir}:official:"+broken.String(), "not a hash", 0).Err(); err != nil {
			t.Fatal(err)
		}
		c, got, err := vs.GetCallWithLine(ctx, id, broken)
		if err != nil || c.ID != id || got != (verify.CallerLine{}) {
			t.Fatalf("GetCallWithLine with an unreadable hinted record: %s, %+v, %v; want the call, no record, no error", c.ID, got, err)
		}
		if _, err := vs.CallerLine(ctx, broken); err == nil {
			t.Fatal("CallerLine of an unreadable record: no error")
		}
		if _, got, err := vs.GetCallWithLine(ctx, id, line); err != nil || got.Number != line || !got.Registered || !got.PlacesCalls {
			t.Fatalf("GetCallWithLine with the call's caller: %+v, %v; want its record", got, err)
		}
	})
}

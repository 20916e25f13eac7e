package blocklist_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

const line = phone.Number("+8657188881234")

func registerLine(t *testing.T, svc *blocklist.Service, n phone.Number, d blocklist.Direction) blocklist.OfficialNumber {
	t.Helper()
	o, err := svc.CreateOfficialNumber(context.Background(), analyst, n.String(), blocklist.OfficialNumber{DisplayName: "Example", Direction: d})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// indexed says whether svc's memory holds n with generation gen ("" for
// any).
func indexed(svc *blocklist.Service, n phone.Number, gen string) bool {
	o, err := svc.IndexedOfficialNumber(n)
	return err == nil && (gen == "" || o.Gen == gen)
}

// An official number registered or deleted through one instance is in its
// own memory when the write returns, and reaches another instance's memory
// through the change log, as entries do.
func TestOfficialNumbersAreInMemoryOnEveryInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newEnv(t)
	b := a.another(t)
	o := registerLine(t, a.svc, line, blocklist.DirectionOutbound)
	stored, err := a.store.GetOfficialNumber(ctx, line)
	if err != nil {
		t.Fatal(err)
	}
	if o.Gen == "" || o.Gen != stored.Gen {
		t.Fatalf("CreateOfficialNumber returned generation %q, the store holds %q", o.Gen, stored.Gen)
	}
	got, err := a.svc.IndexedOfficialNumber(line)
	if err != nil || got.Gen != stored.Gen || got.Direction != blocklist.DirectionOutbound || got.DisplayName != "Example" {
		t.Fatalf("A's memory right after A's create = %+v, %v; want the stored record %+v", got, err, stored)
	}
	eventually(t, "a line registered on A is in B's memory", func() bool { return indexed(b, line, stored.Gen) })

	if _, err := b.DeleteOfficialNumber(ctx, analyst, line.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.IndexedOfficialNumber(line); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("B's memory right after B's delete: %v, want ErrNotFound", err)
	}
	eventually(t, "a line deleted on B leaves A's memory", func() bool { return !indexed(a.svc, line, "") })

	again := registerLine(t, b, line, blocklist.DirectionInboundOnly)
	eventually(t, "the line registered again reaches A with its new generation", func() bool {
		got, err := a.svc.IndexedOfficialNumber(line)
		return err == nil && got.Gen == again.Gen && got.Gen != stored.Gen && got.Direction == blocklist.DirectionInboundOnly
	})
}

// A start, a reload and a start from the index snapshot all list the
// official numbers from the store: those registered before official
// numbers were in the change log as well as the rest.
func TestAStartAndAReloadLoadTheOfficialNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, snapshot := range []bool{false, true} {
		s := newSnapStore(t, 0)
		first := s.service(t, snapshot, nil)
		o, err := first.CreateOfficialNumber(ctx, analyst, line.String(), blocklist.OfficialNumber{DisplayName: "Example", Direction: blocklist.DirectionBoth})
		if err != nil {
			t.Fatal(err)
		}
		gone, err := first.CreateOfficialNumber(ctx, analyst, "+8657188885678", blocklist.OfficialNumber{DisplayName: "Old", Direction: blocklist.DirectionOutbound})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.DeleteOfficialNumber(ctx, analyst, gone.Number.String()); err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		var wrap func(blocklist.Store) blocklist.Store
		if snapshot {
			wrap = func(st blocklist.Store) blocklist.Store { return noScan{st} } // the start must not scan
		}
		next := s.service(t, snapshot, wrap)
		if !indexed(next, line, o.Gen) || indexed(next, gone.Number, "") {
			t.Errorf("snapshot %v: after a restart the memory holds %s: %v, %s: %v; want only the first", snapshot,
				line, indexed(next, line, o.Gen), gone.Number, indexed(next, gone.Number, ""))
		}
		if snapshot {
			continue
		}
		if err := next.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if !indexed(next, line, o.Gen) || indexed(next, gone.Number, "") || next.Index().Officials() != 1 {
			t.Errorf("after a reload the memory holds %d official numbers, want only %s", next.Index().Officials(), line)
		}
	}
}

// While the follower cannot read the store, the memory's official numbers
// may be behind by the length of the outage: they are refused with
// ErrUnavailable until the follower reads the store again.
func TestIndexedOfficialNumbersAreUnavailableWhileTheStoreIsDown(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	e := newEnv(t, func(c *blocklist.Config) {
		c.Store = failing{Store: c.Store, down: &down}
		c.Follow = blocklist.Follow{Interval: 5 * time.Millisecond}
	})
	registerLine(t, e.svc, line, blocklist.DirectionOutbound)
	down.Store(true)
	within(t, 10*time.Second, "the follower notices the store is down", func() bool { return e.svc.IndexStats().Failures > 0 })
	if _, err := e.svc.IndexedOfficialNumber(line); !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("IndexedOfficialNumber while the store is down: %v, want ErrUnavailable", err)
	}
	down.Store(false)
	within(t, 10*time.Second, "the memory answers once the store does", func() bool { return indexed(e.svc, line, "") })
}

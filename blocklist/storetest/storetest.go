// Package storetest is the conformance suite every blocklist.Store backend
// must pass: the embedded store now, Redis later.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Run runs the suite. newStore returns an empty store; it is called once per
// subtest.
func Run(t *testing.T, newStore func(t *testing.T) blocklist.Store) {
	t.Helper()
	t.Run("OfficialNumbers", func(t *testing.T) { t.Parallel(); testOfficialNumbers(t, newStore(t)) })
	t.Run("OfficialNumbersConcurrentCreate", func(t *testing.T) { t.Parallel(); testOfficialConcurrentCreate(t, newStore(t)) })
	t.Run("Entries", func(t *testing.T) { t.Parallel(); testEntries(t, newStore(t)) })
	t.Run("EntryUpdate", func(t *testing.T) { t.Parallel(); testEntryUpdate(t, newStore(t)) })
	t.Run("EntryChangesAreOrdered", func(t *testing.T) { t.Parallel(); testEntryChanges(t, newStore(t)) })
	t.Run("EntryListAndCount", func(t *testing.T) { t.Parallel(); testEntryList(t, newStore(t)) })
	t.Run("EntryOfficialConflicts", func(t *testing.T) { t.Parallel(); testEntryOfficialConflicts(t, newStore(t)) })
	t.Run("EntryOfficialConflictsConcurrent", func(t *testing.T) { t.Parallel(); testEntryOfficialConcurrent(t, newStore(t)) })
	t.Run("EntryConcurrentCreateSamePattern", func(t *testing.T) { t.Parallel(); testEntryConcurrentCreate(t, newStore(t)) })
	t.Run("EntryConcurrentUpdateSameRevision", func(t *testing.T) { t.Parallel(); testEntryConcurrentUpdate(t, newStore(t)) })
	t.Run("ImportEntries", func(t *testing.T) { t.Parallel(); testImportEntries(t, newStore(t)) })
	t.Run("ChangeLog", func(t *testing.T) { t.Parallel(); testChangeLog(t, newStore(t)) })
	t.Run("ChangeLogOfficialNumbers", func(t *testing.T) { t.Parallel(); testOfficialChanges(t, newStore(t)) })
	t.Run("ChangeLogConcurrentWriters", func(t *testing.T) { t.Parallel(); testChangeLogConcurrent(t, newStore(t)) })
	t.Run("Reports", func(t *testing.T) { t.Parallel(); testReports(t, newStore(t)) })
	t.Run("ReportsDailyLimit", func(t *testing.T) { t.Parallel(); testReportsDailyLimit(t, newStore(t)) })
	t.Run("ReportsConcurrentDistinct", func(t *testing.T) { t.Parallel(); testReportsConcurrent(t, newStore(t)) })
	t.Run("ReportsListOrder", func(t *testing.T) { t.Parallel(); testReportsList(t, newStore(t)) })
	t.Run("ReportsResolve", func(t *testing.T) { t.Parallel(); testReportsResolve(t, newStore(t)) })
	t.Run("PruneReports", func(t *testing.T) { t.Parallel(); testPruneReports(t, newStore(t)) })
}

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func official(n string, d blocklist.Direction) blocklist.OfficialNumber {
	return blocklist.OfficialNumber{
		Number: phone.Number(n), DisplayName: "Customer service " + n, Direction: d,
		Description: "desc", CreateBy: "admin-1", CreateTime: t0,
	}
}

func testOfficialNumbers(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	if _, err := s.GetOfficialNumber(ctx, "+8695188"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("Get of a missing number: err = %v, want ErrNotFound", err)
	}
	want := []blocklist.OfficialNumber{
		official("+8640080088881", blocklist.DirectionOutbound),
		official("+8657188881234", blocklist.DirectionBoth),
		official("+8695188", blocklist.DirectionInboundOnly),
	}
	for _, o := range want {
		if _, err := s.CreateOfficialNumber(ctx, o, t0, officialEvent("official_number.create")); err != nil {
			t.Fatalf("Create %s: %v", o.Number, err)
		}
	}
	if _, err := s.CreateOfficialNumber(ctx, want[0], t0, officialEvent("official_number.create")); !errors.Is(err, fault.ErrAlreadyExists) {
		t.Fatalf("second Create: err = %v, want ErrAlreadyExists", err)
	}
	got, err := s.GetOfficialNumber(ctx, "+8695188")
	if err != nil {
		t.Fatal(err)
	}
	if got.Gen == "" || withoutGen(got) != want[2] {
		t.Errorf("Get = %+v, want %+v with a generation", got, want[2])
	}
	all, err := s.ListOfficialNumbers(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	gens := map[string]bool{}
	for i, o := range all {
		gens[o.Gen] = true
		all[i] = withoutGen(o)
	}
	if got, want := fmt.Sprint(all), fmt.Sprint(want); got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	if len(gens) != len(want) || gens[""] {
		t.Errorf("List: generations %v, want %d different ones, none empty", gens, len(want))
	}
	page, err := s.ListOfficialNumbers(ctx, want[0].Number.String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].Number != want[1].Number {
		t.Errorf("List after %s limit 1 = %v, want [%s]", want[0].Number, page, want[1].Number)
	}
	old, _, _, err := s.DeleteOfficialNumber(ctx, want[1].Number, t0, officialEvent("official_number.delete"))
	if err != nil {
		t.Fatal(err)
	}
	if old.Gen == "" || withoutGen(old) != want[1] {
		t.Errorf("Delete returned %+v, want %+v with its generation", old, want[1])
	}
	if _, _, _, err := s.DeleteOfficialNumber(ctx, want[1].Number, t0, officialEvent("official_number.delete")); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("second Delete: err = %v, want ErrNotFound", err)
	}
	if all, _ := s.ListOfficialNumbers(ctx, "", 10); len(all) != 2 {
		t.Errorf("after Delete List has %d numbers, want 2", len(all))
	}
}

func testOfficialConcurrentCreate(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateOfficialNumber(ctx, official("+8695188", blocklist.DirectionBoth), t0, officialEvent("official_number.create"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, fault.ErrAlreadyExists):
			t.Errorf("concurrent Create: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent creates of one number succeeded, want exactly 1", ok)
	}
}

// ev is the event a test passes with a write: the store completes it.
func ev(action string) audit.Event {
	return audit.Event{Time: t0, Actor: "analyst-1", Role: "analyst", Action: action}
}

// withoutGen is o without its generation, which the store chooses.
func withoutGen(o blocklist.OfficialNumber) blocklist.OfficialNumber {
	o.Gen = ""
	return o
}

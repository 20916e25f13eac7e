package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Events are marshalled before their script runs, from what the method
// read (the script refusing a stale read) or with counts the script fills
// in. Under racing writers, each event must still say what the stream
// order says: a report's count is the number of reports before it and
// itself, a resolution's Before counts every report before it, and a
// delete's Before is the entry as the last update before it left it.
func TestEventsAgreeWithTheirOrderUnderRacingWriters(t *testing.T) {
	t.Parallel()
	for _, srv := range blockServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			rdb := srv.client(t)
			s, prefix := newTestBlocklistStore(t, rdb, 0)
			a := streamAudit{rdb: rdb, key: "{" + prefix + ":dir}:audit"}
			ctx := context.Background()
			const caller = phone.Number("+8617012345678")
			lim := blocklist.ReportLimits{MaxPerDay: 100, Notes: 3}
			report := func(i int) error {
				r := blocklist.Report{CallerNumber: caller, Note: fmt.Sprint("n", i), OccurTime: blockT0, CreateTime: blockT0}
				_, _, err := s.AddReport(ctx, r, phone.Number(fmt.Sprintf("+86139%08d", i)), lim, blockEvent("report.create"))
				return err
			}
			if err := report(0); err != nil {
				t.Fatal(err)
			}
			e, _, err := s.CreateEntry(ctx, blockEntry("+86170*", blocklist.CategoryScam), blockT0, blockEvent("entry.create"))
			if err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(2)
				go func() { // reporters
					defer wg.Done()
					for i := range 5 {
						if err := report(1 + w*5 + i); err != nil {
							t.Error(err)
						}
					}
				}()
				go func() { // updaters, until the entry is gone
					defer wg.Done()
					for i := range 10 {
						cur, err := s.GetEntry(ctx, e.ID)
						if errors.Is(err, fault.ErrNotFound) {
							return
						}
						if err != nil {
							t.Error(err)
							return
						}
						cur.Reason = fmt.Sprintf("writer %d update %d", w, i)
						_, _, err = s.UpdateEntry(ctx, cur, cur.Rev, blockT0, blockEvent("entry.update"))
						if err != nil && !errors.Is(err, fault.ErrConflict) && !errors.Is(err, fault.ErrNotFound) {
							t.Error(err)
						}
					}
				}()
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				if _, _, _, err := s.ResolveReportedNumber(ctx, caller, blocklist.ReportDismissed, nil, blockT0, blockEvent("reported_number.resolve")); err != nil {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, _, err := s.DeleteEntry(ctx, e.ID, blockEvent("entry.delete")); err != nil {
					t.Error(err)
				}
			}()
			wg.Wait()

			evs, _, err := a.ListAuditEvents(ctx, audit.Filter{}, 1000, "")
			if err != nil {
				t.Fatal(err)
			}
			reports, lastReason, resolved, deleted := 0, "", false, false
			for i := len(evs) - 1; i >= 0; i-- { // oldest first
				ev := evs[i]
				switch ev.Action {
				case "report.create":
					reports++
					if got := ev.After["report_count"]; got != float64(reports) {
						t.Errorf("report event %d says report_count %v", reports, got)
					}
				case "reported_number.resolve":
					resolved = true
					if got := ev.Before["report_count"]; got != float64(reports) {
						t.Errorf("the resolution's Before says %v reports, %d came before it", got, reports)
					}
				case "entry.create", "entry.update":
					lastReason, _ = ev.After["reason"].(string)
				case "entry.delete":
					deleted = true
					if got := ev.Before["reason"]; got != lastReason {
						t.Errorf("the delete's Before says reason %q, the last write before it %q", got, lastReason)
					}
				}
			}
			if reports != 21 || !resolved || !deleted {
				t.Errorf("the stream holds %d reports, resolved %v, deleted %v; want 21, true, true", reports, resolved, deleted)
			}
		})
	}
}

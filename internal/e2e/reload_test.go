package e2e

import (
	"fmt"
	"testing"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/redistest"
)

func TestRedisRestartedWithoutItsDataMakesInstancesReload(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{}) // no AOF, no snapshots: a restart loses everything
	p.official(p.a)
	p.stamp(p.a)
	lost := []string{"+8617000000011", "+8617000000012", "+8617000000013"}
	for _, n := range lost {
		p.block(p.a, n)
	}
	for _, n := range lost {
		p.wantBlocked(n, true, maxPropagation)
	}

	p.redis.Kill(t)
	p.redis.Start(t)

	// B writes more changes than A's index had seen, at once: the store's
	// sequence passes A's again, and A must still notice that the log it
	// follows is a new one.
	var added []string
	for i := range len(lost) + 2 {
		n := fmt.Sprintf("+861710000002%d", i)
		eventually(t, restartWithin, "block "+n+" on B after the restart", func() error {
			_, err := p.b.blocklist.CreateEntry(p.analystCtx(), &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
				Pattern: n, Category: callverifyv1.Category_CATEGORY_SPAM, Confidence: 50,
			}})
			return err
		})
		added = append(added, n)
	}
	for _, n := range lost {
		p.wantBlocked(n, false, restartWithin)
	}
	for _, n := range added {
		p.wantBlocked(n, true, restartWithin)
	}
	// The call and the official number are gone too: nobody verifies.
	for _, d := range []*daemon{p.a, p.b} {
		if v, err := p.verdict(d, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_UNKNOWN {
			t.Errorf("%s's verdict for the line whose registration was lost: %v, err %v; want UNKNOWN", d.name, v, err)
		}
	}
}

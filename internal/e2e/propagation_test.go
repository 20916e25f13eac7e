package e2e

import (
	"fmt"
	"testing"
	"time"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/redistest"
)

// maxPropagation is the bound: a change made on one instance is
// seen by every other within a second.
const maxPropagation = time.Second

func TestEveryInstanceSeesEveryChangeWithinASecond(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{})

	// An official number and a call made on A verify on B.
	p.official(p.a)
	p.stamp(p.a)
	took := eventually(t, maxPropagation, "B says VERIFIED for a call stamped on A", func() error {
		if v, err := p.verdict(p.b, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_VERIFIED {
			return fmt.Errorf("verdict %v, err %v", v, err)
		}
		return nil
	})
	t.Logf("a call stamped on A verified on B after %v", took)

	// A block made on A matches on B, in the blocklist and in CheckCaller.
	const fraud = "+8617012345678"
	id := p.block(p.a, fraud)
	took = eventually(t, maxPropagation, "B matches a block made on A", func() error {
		if blocked, err := p.blocked(p.b, fraud); err != nil || !blocked {
			return fmt.Errorf("blocked %v, err %v", blocked, err)
		}
		if v, err := p.verdict(p.b, fraud); err != nil || v != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD {
			return fmt.Errorf("verdict %v, err %v", v, err)
		}
		return nil
	})
	t.Logf("a block made on A matched on B after %v", took)

	// Unblocked on B: A stops matching.
	if _, err := p.b.blocklist.DeleteEntry(p.analystCtx(), &callverifyv1.DeleteEntryRequest{EntryId: id}); err != nil {
		t.Fatalf("delete the entry on B: %v", err)
	}
	took = p.wantBlocked(fraud, false, maxPropagation)
	t.Logf("an entry deleted on B stopped matching on A after %v", took)
	if v, err := p.verdict(p.a, fraud); err != nil || v != callverifyv1.Verdict_VERDICT_UNKNOWN {
		t.Errorf("A's verdict for an unblocked number: %v, err %v; want UNKNOWN", v, err)
	}
}

// restartWithin bounds how long both instances may take to agree with the
// store again after Redis came back.
const restartWithin = 5 * time.Second

func TestRedisRestartedWithItsDataLeavesInstancesInStep(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{AppendOnly: true})
	const gone, stays, added = "+8617000000001", "+8617000000002", "+8617000000003"
	goneID := p.block(p.a, gone)
	p.block(p.b, stays)
	p.wantBlocked(gone, true, maxPropagation)
	p.wantBlocked(stays, true, maxPropagation)

	p.redis.Stop(t)
	p.redis.Start(t)

	// Right after the restart: one entry deleted on A, one created on B.
	eventually(t, restartWithin, "delete an entry on A after the restart", func() error {
		_, err := p.a.blocklist.DeleteEntry(p.analystCtx(), &callverifyv1.DeleteEntryRequest{EntryId: goneID})
		return err
	})
	eventually(t, restartWithin, "create an entry on B after the restart", func() error {
		_, err := p.b.blocklist.CreateEntry(p.analystCtx(), &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
			Pattern: added, Category: callverifyv1.Category_CATEGORY_SPAM, Confidence: 50,
		}})
		return err
	})
	p.wantBlocked(gone, false, restartWithin)
	p.wantBlocked(stays, true, restartWithin)
	p.wantBlocked(added, true, restartWithin)
}

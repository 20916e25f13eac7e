package blocklist_test

import (
	"context"
	"errors"
	"testing"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// noFullScan is a store whose ScanEntries fails: a follower that loads
// through it must use ScanIndexEntries.
type noFullScan struct{ *boltstore.BlocklistStore }

func (noFullScan) ScanEntries(context.Context, func(blocklist.Entry) error) (uint64, error) {
	return 0, errors.New("ScanEntries called")
}

// TestTheIndexLoadsThroughScanIndexEntriesWhenTheStoreHasIt: a restart
// reads only what the index holds when the store can give just that.
func TestTheIndexLoadsThroughScanIndexEntriesWhenTheStoreHasIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	blocked := e.create(t, "+8613800138000", blocklist.CategoryScam)
	e.create(t, "+86170*", blocklist.CategorySpam)
	cfg := e.cfg
	cfg.Store = noFullScan{e.store}
	svc, err := blocklist.NewService(cfg)
	if err != nil {
		t.Fatalf("NewService over a store whose full scan fails: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	if got, ok := svc.Match(phone.Number("+8613800138000")); !ok || got.Pattern != blocked.Pattern || got.Category != blocklist.CategoryScam {
		t.Errorf("Match(+8613800138000) = %+v, %v; want the exact entry", got, ok)
	}
	if got, ok := svc.Match(phone.Number("+8617012345678")); !ok || got.Pattern != "+86170*" || got.Kind != blocklist.KindPrefix {
		t.Errorf("Match(+8617012345678) = %+v, %v; want the prefix", got, ok)
	}
	if st := svc.IndexStats(); st.Entries != 2 || st.Seq != blocked.Rev+1 {
		t.Errorf("IndexStats = %+v, want 2 entries at seq %d", st, blocked.Rev+1)
	}
}

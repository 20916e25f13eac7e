package boltstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/callverify/callverify/blocklist"
)

// The buckets of the version 1 layout: records keyed by pattern string,
// and a bucket of ID -> pattern.
var (
	bEntriesV1  = []byte("blocklist/entries")
	bEntryIDsV1 = []byte("blocklist/entry_ids")
)

// migrateEntriesV1 rewrites a store's version 1 entries in the version 2
// layout, in the transaction that opens the store, so that a store is in
// one layout or the other: every entry keeps its ID, revision and times,
// and the change counter and ID sequence go on from where they were. The
// change log is left as it is (decodeChange reads both versions).
func migrateEntriesV1(tx *bolt.Tx) error {
	old := tx.Bucket(bEntriesV1)
	if old == nil {
		return nil
	}
	t := newEntryTx(tx)
	if t.entries.Stats().KeyN != 0 {
		return fmt.Errorf("migrate blocklist entries: both layouts hold entries")
	}
	// The old bucket is in pattern order, which is key order: append.
	t.entries.FillPercent = 1
	err := old.ForEach(func(k, v []byte) error {
		e, err := decodeEntryV1(v)
		if err != nil {
			return fmt.Errorf("entry %q: %w", k, err)
		}
		key := patternKeyOf(e.Pattern)
		seq, ok := idSeq(e.ID)
		if key == nil || !ok {
			return fmt.Errorf("entry %q (ID %q): not a pattern and ID this store issues", e.Pattern, e.ID)
		}
		t.ids.set(seq, key)
		reason := strRef{s: e.Reason}
		if e.Source == blocklist.SourceImport {
			if reason, err = t.dict.ref(e.Reason); err != nil {
				return err
			}
		}
		by, err := t.dict.ref(e.CreateBy)
		if err != nil {
			return err
		}
		return t.entries.Put(key, encodeRecord(e, reason, by))
	})
	if err != nil {
		return fmt.Errorf("migrate blocklist entries: %w", err)
	}
	if err := t.ids.flush(); err != nil {
		return fmt.Errorf("migrate blocklist entries: %w", err)
	}
	if err := t.entries.SetSequence(old.Sequence()); err != nil {
		return err
	}
	if ids := tx.Bucket(bEntryIDsV1); ids != nil {
		if err := t.ids.b.SetSequence(ids.Sequence()); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bEntryIDsV1); err != nil {
			return err
		}
	}
	return tx.DeleteBucket(bEntriesV1)
}

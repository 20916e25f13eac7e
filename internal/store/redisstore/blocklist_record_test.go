package redisstore_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// entryReads are what a store reads of the entry with pattern p, by every
// path that decodes an entry's body: by ID and pattern, in a list, in the
// change log, in the full scan and in the index scan.
type entryReads struct {
	ByID, ByPattern, Listed, Scanned blocklist.Entry
	Changes                          []blocklist.Change
	Index                            blocklist.Entry
}

// seqNow is the store's change sequence.
func seqNow(t *testing.T, s *redisstore.BlocklistStore) uint64 {
	t.Helper()
	seq, err := s.ScanEntries(context.Background(), func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// readEntry reads the entry of pattern p, and its changes after sequence
// since.
func readEntry(t *testing.T, s *redisstore.BlocklistStore, p string, since uint64) entryReads {
	t.Helper()
	ctx := context.Background()
	var r entryReads
	var err error
	if r.ByPattern, err = s.GetEntryByPattern(ctx, p); err != nil {
		t.Fatal(err)
	}
	if r.ByID, err = s.GetEntry(ctx, r.ByPattern.ID); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListEntries(ctx, blocklist.EntryFilter{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.Pattern == p {
			r.Listed = e
		}
	}
	if _, err := s.ScanEntries(ctx, func(e blocklist.Entry) error {
		if e.Pattern == p {
			r.Scanned = e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScanIndexEntries(ctx, func(e blocklist.Entry) error {
		if e.Pattern == p {
			r.Index = e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	chs, err := s.Changes(ctx, since, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chs {
		if c.Entry.Pattern == p {
			r.Changes = append(r.Changes, c)
		}
	}
	return r
}

// entryBodies are the b fields of pattern p's hash and of its change log
// records.
func entryBodies(t *testing.T, rdb redis.UniversalClient, prefix, p string) (hash string, log []string) {
	t.Helper()
	ctx := context.Background()
	hash, err := rdb.HGet(ctx, "{"+prefix+":dir}:e:"+p, "b").Result()
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := rdb.XRange(ctx, "{"+prefix+":dir}:changes", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Values["o"] == "p" && m.Values["b"] != nil {
			if b := m.Values["b"].(string); strings.Contains(b, p) {
				log = append(log, b)
			}
		}
	}
	return hash, log
}

// An entry stored before entries were protobuf records (its body the JSON
// object of before) reads, by every path, as the same entry stored now;
// entries written now are not JSON, in their hash or in the change log.
func TestEntriesStoredAsJSONStillRead(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t).Client(t)
	s, prefix := newTestBlocklistStore(t, rdb, 0)
	ctx := context.Background()
	since := seqNow(t, s)
	e := blockEntry("+8613900139000", blocklist.CategoryScam)
	e.Reason, e.Confidence, e.ExpireTime = `said "f":99 on the phone`, 65, blockT0.Add(48*time.Hour)
	e, _, err := s.CreateEntry(ctx, e, blockT0, blockEvent("entry.create"))
	if err != nil {
		t.Fatal(err)
	}
	hash, log := entryBodies(t, rdb, prefix, e.Pattern)
	if strings.HasPrefix(hash, "{") || len(log) != 1 || log[0] != hash {
		t.Fatalf("a new entry's body: hash %q, change log %q; want one protobuf record in both", hash, log)
	}
	got := readEntry(t, s, e.Pattern, since)

	// The same entry as the versions before wrote it.
	old, _ := json.Marshal(map[string]any{
		"p": e.Pattern, "k": int(e.Kind), "c": int(e.Category), "r": e.Reason, "s": int(e.Source),
		"f": e.Confidence, "by": e.CreateBy, "ct": e.CreateTime.UnixMilli(), "ut": e.UpdateTime.UnixMilli(),
		"xt": e.ExpireTime.UnixMilli(),
	})
	if err := rdb.HSet(ctx, "{"+prefix+":dir}:e:"+e.Pattern, "b", old).Err(); err != nil {
		t.Fatal(err)
	}
	fromJSON := readEntry(t, s, e.Pattern, since)
	fromJSON.Changes = got.Changes // the change log still holds the record written above
	if !reflect.DeepEqual(fromJSON, got) || !reflect.DeepEqual(got.ByID, e) || got.Index.Confidence != 65 {
		t.Errorf("read from JSON:\n%+v\nread from protobuf:\n%+v\nwritten:\n%+v", fromJSON, got, e)
	}
}

// Under JSONEntryRecords (a rolling upgrade from a version that reads only
// JSON) entry writes store the JSON of before, in the hash and in the
// change log, and a store without it reads every entry as the store that
// wrote it does.
func TestJSONEntryRecordsWritesWhatOlderVersionsRead(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t).Client(t)
	protoStore, prefix := newTestBlocklistStore(t, rdb, 0)
	jsonStore, err := redisstore.NewBlocklistStore(rdb, redisstore.BlocklistOptions{
		KeyPrefix: prefix, PseudonymKeys: testBlocklistRing(t), JSONEntryRecords: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	since := seqNow(t, protoStore)
	created := blockEntry("+8613900139001", blocklist.CategoryScam)
	if _, _, err := jsonStore.CreateEntry(ctx, created, blockT0, blockEvent("entry.create")); err != nil {
		t.Fatal(err)
	}
	// An import of what a row must have (no reason or author, which JSON
	// omits when empty) and of a prefix that expires.
	bare := blocklist.Entry{Pattern: "+8613900139002", Category: blocklist.CategorySpam, Source: blocklist.SourceImport,
		CreateTime: blockT0, UpdateTime: blockT0}
	prefixed := blockEntry("+861390014*", blocklist.CategoryImpersonation)
	prefixed.ExpireTime, prefixed.Confidence = blockT0.Add(time.Hour), 5
	if _, _, err := jsonStore.ImportEntries(ctx, []blocklist.Entry{bare, prefixed}, blockT0, blockEvent("entry.import")); err != nil {
		t.Fatal(err)
	}
	for _, e := range []blocklist.Entry{created, bare, prefixed} {
		hash, log := entryBodies(t, rdb, prefix, e.Pattern)
		var old map[string]any
		if err := json.Unmarshal([]byte(hash), &old); err != nil || old["p"] != e.Pattern || old["f"] != float64(e.Confidence) || old["ct"] != float64(blockT0.UnixMilli()) {
			t.Errorf("%s: b is not the JSON of before (%v): %s", e.Pattern, err, hash)
		}
		if len(log) != 1 || log[0] != hash {
			t.Errorf("%s: the change log holds %q, want the hash's body %q", e.Pattern, log, hash)
		}
		byWriter, byOther := readEntry(t, jsonStore, e.Pattern, since), readEntry(t, protoStore, e.Pattern, since)
		if !reflect.DeepEqual(byWriter, byOther) || byOther.ByID.Pattern != e.Pattern || !byOther.ByID.SameContent(e) {
			t.Errorf("%s: the writer reads:\n%+v\nthe other store reads:\n%+v", e.Pattern, byWriter, byOther)
		}
	}
}

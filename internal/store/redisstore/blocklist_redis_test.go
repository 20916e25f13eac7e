package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

var blockT0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func blockEntry(pattern string, c blocklist.Category) blocklist.Entry {
	k := blocklist.KindExact
	if strings.HasSuffix(pattern, "*") {
		k = blocklist.KindPrefix
	}
	return blocklist.Entry{Pattern: pattern, Kind: k, Category: c, Reason: "r", Source: blocklist.SourceAnalyst,
		Confidence: 80, CreateBy: "analyst-1", CreateTime: blockT0, UpdateTime: blockT0}
}

func blockEvent(action string) audit.Event {
	return audit.Event{Time: blockT0, Actor: "analyst-1", Role: "analyst", Action: action}
}

// A Redis that restarted without its data starts its sequence above every
// one it handed out before: Changes says ErrGap, so the follower reloads
// instead of waiting forever for changes that will never come, even when
// other instances wrote more changes after the loss than it had seen
// (from a sequence restarted at 1, their numbers would have passed for the
// lost ones').
func TestChangesAfterRedisLostItsDataSayGap(t *testing.T) {
	t.Parallel()
	srv := redistest.NewServer(t, redistest.Options{})
	s, _ := newTestBlocklistStore(t, srv.Client(t), 0)
	ctx := context.Background()
	create := func(i int) uint64 {
		t.Helper()
		_, c, err := s.CreateEntry(ctx, blockEntry(fmt.Sprintf("+86138001380%02d", i), blocklist.CategoryScam), blockT0, blockEvent("entry.create"))
		if err != nil {
			t.Fatal(err)
		}
		return c.Seq
	}
	var last uint64
	for i := range 3 {
		last = create(i)
	}
	if got, err := s.Changes(ctx, last, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes(%d) before the restart = %v, %v; want none", last, got, err)
	}
	srv.Stop(t) // no AOF, no RDB: the data is gone
	srv.Start(t)
	if _, err := s.Changes(ctx, last, 10); !errors.Is(err, blocklist.ErrGap) {
		t.Fatalf("Changes(%d) after Redis lost its data: err = %v, want ErrGap", last, err)
	}
	var after uint64
	for i := range 5 {
		after = create(10 + i)
	}
	if _, err := s.Changes(ctx, last, 10); !errors.Is(err, blocklist.ErrGap) {
		t.Fatalf("Changes(%d) after Redis lost its data and took 5 changes: err = %v, want ErrGap", last, err)
	}
	seq, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil || seq != after || seq <= last+5 {
		t.Errorf("ScanEntries after the loss = %d, %v; want the last change's %d, above %d", seq, err, after, last+5)
	}
}

// Every event is one entry of {P:dir}:audit with the single field e, the
// JSON of audit.Event without an ID (the stream entry's ID is the event's)
// and its time in RFC 3339 with nanoseconds.
func TestAuditEventsAreOneStreamEntryWithFieldE(t *testing.T) {
	t.Parallel()
	for _, srv := range blockServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			rdb := srv.client(t)
			s, prefix := newTestBlocklistStore(t, rdb, 0)
			ctx := context.Background()
			e := blockEvent("entry.create")
			e.Time = time.Date(2026, 11, 26, 9, 0, 0, 123456789, time.UTC)
			if _, _, err := s.CreateEntry(ctx, blockEntry("+86170*", blocklist.CategoryScam), blockT0, e); err != nil {
				t.Fatal(err)
			}
			msgs, err := rdb.XRange(ctx, "{"+prefix+":dir}:audit", "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || len(msgs[0].Values) != 1 {
				t.Fatalf("audit stream = %+v, want one entry with one field", msgs)
			}
			raw, ok := msgs[0].Values["e"].(string)
			if !ok {
				t.Fatalf("audit entry fields = %v, want e", msgs[0].Values)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				t.Fatal(err)
			}
			// The stream entry's id is the event's id: the stored form has none.
			if _, has := m["id"]; has || m["time"] != "2026-11-26T09:00:00.123456789Z" || m["action"] != "entry.create" {
				t.Errorf("stored event = %s, want no id, time 2026-11-26T09:00:00.123456789Z, action entry.create", raw)
			}
		})
	}
}

// DeleteOfficialNumber counts the line's live calls as ended in its
// script (its event says how many), then has EndLine mark them, after the
// number is gone.
func TestDeleteOfficialNumberEndsTheLinesCalls(t *testing.T) {
	t.Parallel()
	rdb := redistest.Cluster(t).Client(t)
	ctx := context.Background()
	const n = phone.Number("+8657188881234")
	now := blockT0.Add(time.Hour)
	var calls []string
	var endErr error
	var s *redisstore.BlocklistStore
	prefix := strings.TrimSuffix(redistest.Prefix(t), ":")
	s, err := redisstore.NewBlocklistStore(rdb, redisstore.BlocklistOptions{
		KeyPrefix: prefix, PseudonymKeys: testBlocklistRing(t),
		EndLine: func(ctx context.Context, caller phone.Number, at time.Time) (int, error) {
			_, err := s.GetOfficialNumber(ctx, caller)
			calls = append(calls, fmt.Sprintf("%s at %s, official: %v", caller, at.Format(time.RFC3339), errors.Is(err, fault.ErrNotFound)))
			return 2, endErr
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := streamAudit{rdb: rdb, key: "{" + prefix + ":dir}:audit"}
	o := blocklist.OfficialNumber{Number: n, DisplayName: "CS", Direction: blocklist.DirectionOutbound, CreateBy: "admin-1", CreateTime: blockT0}
	if _, err := s.CreateOfficialNumber(ctx, o, blockT0, blockEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
	line := "{" + prefix + ":dir}:line:" + n.String()
	for id, exp := range map[string]time.Time{"live1": now.Add(time.Minute), "live2": now.Add(time.Hour), "over": now.Add(-time.Minute)} {
		if err := rdb.ZAdd(ctx, line, redisZ(id, exp)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	_, ended, _, err := s.DeleteOfficialNumber(ctx, n, now, blockEvent("official_number.delete"))
	if err != nil || ended != 2 {
		t.Fatalf("DeleteOfficialNumber = %d ended, %v; want 2", ended, err)
	}
	if want := "[+8657188881234 at 2026-11-26T10:00:00Z, official: true]"; fmt.Sprint(calls) != want {
		t.Errorf("EndLine calls = %v, want %s (after the delete)", calls, want)
	}
	evs, _, err := a.ListAuditEvents(ctx, audit.Filter{Action: "official_number.delete"}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].After["ended_calls"] != float64(2) || evs[0].Before["display_name"] != "CS" {
		t.Errorf("delete events = %+v, want one with ended_calls 2 and the number before", evs)
	}

	// EndLine failing: the number is deleted all the same, and the error
	// says so.
	if _, err := s.CreateOfficialNumber(ctx, o, blockT0, blockEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
	endErr = errors.New("shard down")
	if _, _, _, err := s.DeleteOfficialNumber(ctx, n, now, blockEvent("official_number.delete")); !errors.Is(err, endErr) {
		t.Errorf("DeleteOfficialNumber with EndLine failing: err = %v, want it wrapped", err)
	}
	if _, err := s.GetOfficialNumber(ctx, n); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("after a delete whose EndLine failed: %v, want the number gone", err)
	}
}

// A pseudonym key rotates by putting a new key first: a reporter who
// reported under the old key keeps today's count and stays one reporter,
// and no key or value holds the reporter's number.
func TestReporterPseudonymsRotateAndNeverHoldTheNumber(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t).Client(t)
	prefix := strings.TrimSuffix(redistest.Prefix(t), ":")
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	store := func(keys ...[]byte) *redisstore.BlocklistStore {
		ring, err := hmackeys.New(keys...)
		if err != nil {
			t.Fatal(err)
		}
		s, err := redisstore.NewBlocklistStore(rdb, redisstore.BlocklistOptions{KeyPrefix: prefix, PseudonymKeys: ring})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	const reporter = phone.Number("+8613912345678")
	now := blockT0
	lim := blocklist.ReportLimits{MaxPerDay: 3, Window: 24 * time.Hour}
	report := func(s *redisstore.BlocklistStore, caller phone.Number) (blocklist.ReportedNumber, error) {
		now = now.Add(time.Minute)
		r := blocklist.Report{CallerNumber: caller, OccurTime: now, CreateTime: now, Note: "note"}
		_, g, err := s.AddReport(ctx, r, reporter, lim, audit.Event{Actor: reporter.Masked(), Action: "report.create", Time: now})
		return g, err
	}
	before := store(oldKey)
	for range 2 {
		if _, err := report(before, "+8617012345678"); err != nil {
			t.Fatal(err)
		}
	}
	rotated := store(newKey, oldKey)
	g, err := report(rotated, "+8617012345678")
	if err != nil {
		t.Fatal(err)
	}
	if g.DistinctReporters != 1 || g.ReportCount != 3 || g.RecentReporters != 1 {
		t.Errorf("after the rotation the group is %+v, want 3 reports by 1 reporter", g)
	}
	if _, err := report(rotated, "+8617099999999"); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Errorf("fourth report of the day across the rotation: err = %v, want ErrResourceExhausted", err)
	}
	// Re-keyed: the new key alone knows the reporter now.
	if g, err := report(store(newKey), "+8617012345678"); !errors.Is(err, fault.ErrResourceExhausted) {
		t.Errorf("with the old key dropped: %+v, %v; want the day's count kept (ErrResourceExhausted)", g, err)
	}

	keys, err := rdb.Keys(ctx, "*"+prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	tag := "{" + prefix + ":dir}:"
	for _, k := range keys {
		if !strings.HasPrefix(k, tag) {
			t.Errorf("key %s is outside the directory's slot %s", k, tag)
		}
		if text := valueText(t, rdb, k); strings.Contains(k+text, reporter.Digits()) {
			t.Errorf("key %s holds the reporter's number: %s", k, text)
		}
	}
	if len(keys) < 8 {
		t.Errorf("found %d keys %v; the scan saw less than the store wrote", len(keys), keys)
	}
}

func redisZ(member string, exp time.Time) redis.Z {
	return redis.Z{Score: float64(exp.UnixMilli()), Member: member}
}

// valueText is everything a key holds, as text.
func valueText(t *testing.T, rdb redis.UniversalClient, key string) string {
	t.Helper()
	ctx := context.Background()
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	switch typ {
	case "string":
		v, err = rdb.Get(ctx, key).Result()
	case "hash":
		v, err = rdb.HGetAll(ctx, key).Result()
	case "zset":
		v, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "stream":
		v, err = rdb.XRange(ctx, key, "-", "+").Result()
	default:
		t.Fatalf("key %s has type %s", key, typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(v)
}

// A number deleted between the listing of a page and the read of its
// records leaves no gap in the page: its place is filled from further on,
// so a page shorter than asked still means the end of the list (the
// index's load of the official numbers stops there). The state between
// the two reads is made by hand: the number listed, its record gone.
func TestListOfficialNumbersFillsThePlaceOfOneDeletedMeanwhile(t *testing.T) {
	t.Parallel()
	rdb := redistest.NewServer(t, redistest.Options{}).Client(t)
	s, prefix := newTestBlocklistStore(t, rdb, 0)
	ctx := context.Background()
	nums := []phone.Number{"+864008008801", "+864008008802", "+864008008803"}
	for _, n := range nums {
		o := blocklist.OfficialNumber{Number: n, DisplayName: "CS", Direction: blocklist.DirectionOutbound, CreateBy: "admin-1", CreateTime: blockT0}
		if _, err := s.CreateOfficialNumber(ctx, o, blockT0, blockEvent("official_number.create")); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.Del(ctx, "{"+prefix+":dir}:official:"+nums[0].String()).Err(); err != nil {
		t.Fatal(err)
	}
	numbers := func(list []blocklist.OfficialNumber) []string {
		var out []string
		for _, o := range list {
			out = append(out, o.Number.String())
		}
		return out
	}
	for _, c := range []struct {
		limit int
		want  []string
	}{
		{2, []string{nums[1].String(), nums[2].String()}},
		{3, []string{nums[1].String(), nums[2].String()}},
		{1, []string{nums[1].String()}},
	} {
		got, err := s.ListOfficialNumbers(ctx, "", c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := strings.Join(numbers(got), ","), strings.Join(c.want, ","); g != w {
			t.Errorf("ListOfficialNumbers(limit %d) = %s, want %s", c.limit, g, w)
		}
	}
}

package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
)

// migrationFixture is one case's store and what its setup made.
type migrationFixture struct {
	s       *redisstore.BlocklistStore
	rdb     redis.UniversalClient
	tag     string // {P:dir}
	entryID string
}

const (
	migOfficial = phone.Number("+8657188881234")
	migCaller   = phone.Number("+8617012345678")
	migReporter = phone.Number("+8613912345678")
	migOther    = phone.Number("+8613987654321")
)

var migLimits = blocklist.ReportLimits{MaxPerDay: 10, Notes: 5, Window: 24 * time.Hour}

func (f *migrationFixture) createEntry(t *testing.T, pattern string) {
	t.Helper()
	e, _, err := f.s.CreateEntry(context.Background(), blockEntry(pattern, blocklist.CategoryScam), blockT0, blockEvent("entry.create"))
	if err != nil {
		t.Fatal(err)
	}
	f.entryID = e.ID
}

func (f *migrationFixture) createOfficial(t *testing.T) {
	t.Helper()
	o := blocklist.OfficialNumber{Number: migOfficial, DisplayName: "CS", Direction: blocklist.DirectionOutbound, CreateBy: "admin-1", CreateTime: blockT0}
	if _, err := f.s.CreateOfficialNumber(context.Background(), o, blockT0, blockEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
}

func (f *migrationFixture) report(ctx context.Context, reporter phone.Number) error {
	r := blocklist.Report{CallerNumber: migCaller, OccurTime: blockT0, CreateTime: blockT0, Note: "scam"}
	_, _, err := f.s.AddReport(ctx, r, reporter, migLimits, blockEvent("report.create"))
	return err
}

// migrationCases are store steps, each with the key of {P:dir} that is
// migrated before it runs ("" = every key of the slot) and what the step
// writes when it succeeds: its audit event, its change-log records and the
// change itself. Each key is one the step used to touch without declaring
// it, after writing something.
var migrationCases = []struct {
	name    string
	moved   string
	setup   func(t *testing.T, f *migrationFixture)
	step    func(ctx context.Context, f *migrationFixture) error
	action  string
	changes int
	done    func(t *testing.T, f *migrationFixture)
}{
	{
		name: "DeleteEntry/entries moved", moved: "entries",
		setup: func(t *testing.T, f *migrationFixture) { f.createEntry(t, "+8613800138000") },
		step: func(ctx context.Context, f *migrationFixture) error {
			_, _, err := f.s.DeleteEntry(ctx, f.entryID, blockEvent("entry.delete"))
			return err
		},
		action: "entry.delete", changes: 1,
		done: func(t *testing.T, f *migrationFixture) {
			if _, err := f.s.GetEntry(context.Background(), f.entryID); !errors.Is(err, fault.ErrNotFound) {
				t.Errorf("GetEntry after the delete: %v, want ErrNotFound", err)
			}
		},
	},
	{
		name: "DeleteEntry/every key moved", moved: "",
		setup: func(t *testing.T, f *migrationFixture) { f.createEntry(t, "+8613800138000") },
		step: func(ctx context.Context, f *migrationFixture) error {
			_, _, err := f.s.DeleteEntry(ctx, f.entryID, blockEvent("entry.delete"))
			return err
		},
		action: "entry.delete", changes: 1,
		done: func(t *testing.T, f *migrationFixture) {
			if _, err := f.s.GetEntry(context.Background(), f.entryID); !errors.Is(err, fault.ErrNotFound) {
				t.Errorf("GetEntry after the delete: %v, want ErrNotFound", err)
			}
		},
	},
	{
		name: "CreateEntry/changes moved", moved: "changes",
		setup: func(t *testing.T, f *migrationFixture) { f.createOfficial(t); f.createEntry(t, "+86171*") },
		step: func(ctx context.Context, f *migrationFixture) error {
			_, _, err := f.s.CreateEntry(ctx, blockEntry("+86172*", blocklist.CategoryScam), blockT0, blockEvent("entry.create"))
			return err
		},
		action: "entry.create", changes: 1,
		done: func(t *testing.T, f *migrationFixture) {
			if _, err := f.s.GetEntryByPattern(context.Background(), "+86172*"); err != nil {
				t.Errorf("GetEntryByPattern after the create: %v", err)
			}
		},
	},
	{
		name: "UpdateEntry/changes moved", moved: "changes",
		setup: func(t *testing.T, f *migrationFixture) { f.createOfficial(t); f.createEntry(t, "+86171*") },
		step: func(ctx context.Context, f *migrationFixture) error {
			e, err := f.s.GetEntry(ctx, f.entryID)
			if err != nil {
				return err
			}
			e.Reason = "updated"
			_, _, err = f.s.UpdateEntry(ctx, e, e.Rev, blockT0, blockEvent("entry.update"))
			return err
		},
		action: "entry.update", changes: 1,
		done: func(t *testing.T, f *migrationFixture) {
			if e, err := f.s.GetEntry(context.Background(), f.entryID); err != nil || e.Reason != "updated" {
				t.Errorf("GetEntry after the update = %+v, %v; want reason updated", e, err)
			}
		},
	},
	{
		name: "ImportEntries/changes moved", moved: "changes",
		setup: func(t *testing.T, f *migrationFixture) { f.createOfficial(t); f.createEntry(t, "+86171*") },
		step: func(ctx context.Context, f *migrationFixture) error {
			e := blockEntry("+86171*", blocklist.CategoryScam)
			e.Reason = "imported"
			_, _, err := f.s.ImportEntries(ctx, []blocklist.Entry{e}, blockT0, blockEvent("entry.import"))
			return err
		},
		action: "entry.import", changes: 1,
		done: func(t *testing.T, f *migrationFixture) {
			if e, err := f.s.GetEntry(context.Background(), f.entryID); err != nil || e.Reason != "imported" {
				t.Errorf("GetEntry after the import = %+v, %v; want reason imported", e, err)
			}
		},
	},
	{
		name: "CreateOfficialNumber/audit moved", moved: "audit",
		setup: func(t *testing.T, f *migrationFixture) { f.createEntry(t, "+86171*") },
		step: func(ctx context.Context, f *migrationFixture) error {
			o := blocklist.OfficialNumber{Number: migOfficial, DisplayName: "CS", Direction: blocklist.DirectionOutbound, CreateBy: "admin-1", CreateTime: blockT0}
			_, err := f.s.CreateOfficialNumber(ctx, o, blockT0, blockEvent("official_number.create"))
			return err
		},
		action: "official_number.create", changes: 1,
		done: func(t *testing.T, f *migrationFixture) {
			if _, err := f.s.GetOfficialNumber(context.Background(), migOfficial); err != nil {
				t.Errorf("GetOfficialNumber after the create: %v", err)
			}
		},
	},
	{
		name: "DeleteOfficialNumber/audit moved", moved: "audit",
		setup: func(t *testing.T, f *migrationFixture) { f.createOfficial(t) },
		step: func(ctx context.Context, f *migrationFixture) error {
			_, _, _, err := f.s.DeleteOfficialNumber(ctx, migOfficial, blockT0, blockEvent("official_number.delete"))
			return err
		},
		action: "official_number.delete", changes: 1,
		done: func(t *testing.T, f *migrationFixture) {
			if _, err := f.s.GetOfficialNumber(context.Background(), migOfficial); !errors.Is(err, fault.ErrNotFound) {
				t.Errorf("GetOfficialNumber after the delete: %v, want ErrNotFound", err)
			}
		},
	},
	{
		name: "AddReport/reports moved", moved: "reports",
		setup: func(t *testing.T, f *migrationFixture) {
			if err := f.report(context.Background(), migReporter); err != nil {
				t.Fatal(err)
			}
		},
		step:   func(ctx context.Context, f *migrationFixture) error { return f.report(ctx, migOther) },
		action: "report.create",
		done: func(t *testing.T, f *migrationFixture) {
			if g, err := f.s.GetReportedNumber(context.Background(), migCaller); err != nil || g.ReportCount != 2 || g.DistinctReporters != 2 {
				t.Errorf("GetReportedNumber after the report = %+v, %v; want 2 reports by 2 reporters", g, err)
			}
		},
	},
	{
		name: "ResolveReportedNumber/audit moved", moved: "audit",
		setup: func(t *testing.T, f *migrationFixture) {
			if err := f.report(context.Background(), migReporter); err != nil {
				t.Fatal(err)
			}
		},
		step: func(ctx context.Context, f *migrationFixture) error {
			_, _, _, err := f.s.ResolveReportedNumber(ctx, migCaller, blocklist.ReportDismissed, nil, blockT0, blockEvent("report.resolve"))
			return err
		},
		action: "report.resolve",
		done: func(t *testing.T, f *migrationFixture) {
			if g, err := f.s.GetReportedNumber(context.Background(), migCaller); err != nil || g.Status != blocklist.ReportDismissed {
				t.Errorf("GetReportedNumber after the resolve = %+v, %v; want DISMISSED", g, err)
			}
		},
	},
	{
		name: "PruneReports/audit moved", moved: "audit",
		setup: func(t *testing.T, f *migrationFixture) {
			if err := f.report(context.Background(), migReporter); err != nil {
				t.Fatal(err)
			}
		},
		step: func(ctx context.Context, f *migrationFixture) error {
			_, err := f.s.PruneReports(ctx, blockT0.AddDate(0, 0, 100), 100, blockEvent("report.prune"))
			return err
		},
		action: "report.prune",
		done: func(t *testing.T, f *migrationFixture) {
			if g, err := f.s.GetReportedNumber(context.Background(), migCaller); !errors.Is(err, fault.ErrNotFound) {
				t.Errorf("GetReportedNumber after the prune = %+v, %v; want ErrNotFound", g, err)
			}
		},
	},
}

// While the {P:dir} slot migrates, a blocklist step either commits whole
// (its change, its change-log record and its audit event) or writes
// nothing: every key its script touches is declared, so Redis refuses the
// script before it starts (ASK, TRYAGAIN) unless they are all on one node.
// With a key undeclared, the script failed at it halfway and kept what it
// had written (DeleteEntry deleted the entry's hash and count, then failed
// at the ZREM of {P:dir}:entries: no change-log record, no audit event).
// Once the migration is finished, the step runs and commits whole.
func TestBlocklistStepsAreAllOrNothingWhileTheDirectorySlotMigrates(t *testing.T) {
	t.Parallel()
	c := redistest.NewCluster(t)
	rdb := c.Client(t)
	var nodes []*redis.Client
	for _, n := range c.Nodes() {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
		t.Cleanup(func() { cl.Close() })
		nodes = append(nodes, cl)
	}
	for _, tc := range migrationCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := newTestBlocklistStore(t, rdb, 0)
			f := &migrationFixture{s: s, rdb: rdb, tag: "{" + prefix + ":dir}"}
			tc.setup(t, f)
			m := startMigration(t, nodes, f.tag)
			m.move(t, tc.moved)

			seq, events := f.counters(t)
			before := m.snapshot(t)
			err := tc.step(ctx, f)
			t.Logf("during the migration the step said %v", err)
			if err == nil {
				f.committed(t, seq, events, tc.action, tc.changes)
				tc.done(t, f)
				m.finish(t)
				return
			}
			if after := m.snapshot(t); !equalSnapshots(before, after) {
				t.Errorf("the step failed (%v) but wrote:\n%s", err, diffSnapshots(before, after))
			}
			m.finish(t)
			if err := tc.step(ctx, f); err != nil {
				t.Fatalf("the step after the migration: %v", err)
			}
			f.committed(t, seq, events, tc.action, tc.changes)
			tc.done(t, f)
		})
	}
}

// counters are the change sequence and the number of audit events.
func (f *migrationFixture) counters(t *testing.T) (uint64, int64) {
	t.Helper()
	ctx := context.Background()
	seq, err := f.rdb.Get(ctx, f.tag+":seq").Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	n, err := f.rdb.XLen(ctx, f.tag+":audit").Result()
	if err != nil {
		t.Fatal(err)
	}
	return seq, n
}

// committed checks that exactly one step committed since the counters
// seq and events: one more audit event, with action, and changes
// change-log records after seq.
func (f *migrationFixture) committed(t *testing.T, seq uint64, events int64, action string, changes int) {
	t.Helper()
	ctx := context.Background()
	msgs, err := f.rdb.XRange(ctx, f.tag+":audit", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(msgs)) != events+1 {
		t.Errorf("%d audit events, want %d (one more)", len(msgs), events+1)
	} else if raw, _ := msgs[len(msgs)-1].Values["e"].(string); !strings.Contains(raw, `"action":"`+action+`"`) {
		t.Errorf("last audit event = %s, want action %s", raw, action)
	}
	if seq == 0 {
		return // the setup made no entry change; changes is 0 for those
	}
	chs, err := f.s.Changes(ctx, seq, 100)
	if err != nil || len(chs) != changes {
		t.Errorf("Changes(%d) = %d records, %v; want %d", seq, len(chs), err, changes)
	}
}

// migration is the {P:dir} slot being moved from its owner to another
// master, as redis-cli --cluster reshard does it.
type migration struct {
	finished         bool
	ctx              context.Context
	nodes            []*redis.Client
	slot             int
	src, dst         *redis.Client
	srcID, dstID     string
	dstHost, dstPort string
}

func startMigration(t *testing.T, nodes []*redis.Client, tag string) *migration {
	t.Helper()
	ctx := context.Background()
	slot, err := nodes[0].ClusterKeySlot(ctx, tag).Result()
	if err != nil {
		t.Fatal(err)
	}
	m := &migration{nodes: nodes, slot: int(slot), ctx: ctx}
	for _, n := range nodes {
		keys, err := n.ClusterCountKeysInSlot(ctx, int(slot)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if keys > 0 {
			m.src = n
		}
	}
	if m.src == nil {
		t.Fatalf("no node holds a key of slot %d", slot)
	}
	for _, n := range nodes {
		if n != m.src {
			m.dst = n
			break
		}
	}
	if m.srcID, err = m.src.ClusterMyID(ctx).Result(); err != nil {
		t.Fatal(err)
	}
	if m.dstID, err = m.dst.ClusterMyID(ctx).Result(); err != nil {
		t.Fatal(err)
	}
	if m.dstHost, m.dstPort, err = net.SplitHostPort(m.dst.Options().Addr); err != nil {
		t.Fatal(err)
	}
	if err := m.dst.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "IMPORTING", m.srcID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := m.src.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "MIGRATING", m.dstID).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !m.finished {
			m.finish(t) // a failed case leaves no slot half-moved for the next
		}
	})
	return m
}

// move migrates the key tag:name ("" every key of the slot) to the
// destination.
func (m *migration) move(t *testing.T, name string) {
	t.Helper()
	m.moveWhere(t, func(key string) bool { return name == "" || strings.HasSuffix(key, ":"+name) })
}

// moveWhere migrates the slot's keys that pick says to the destination;
// at least one must be among them.
func (m *migration) moveWhere(t *testing.T, pick func(key string) bool) {
	t.Helper()
	all, err := m.src.ClusterGetKeysInSlot(m.ctx, m.slot, 100000).Result()
	if err != nil {
		t.Fatal(err)
	}
	args := []any{"MIGRATE", m.dstHost, m.dstPort, "", 0, 5000, "KEYS"}
	for _, k := range all {
		if pick(k) {
			args = append(args, k)
		}
	}
	if len(args) == 7 {
		if !m.finished {
			t.Fatalf("no key to move in slot %d (keys %v)", m.slot, all)
		}
		return
	}
	if err := m.src.Do(m.ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// finish moves the rest of the slot's keys and gives the slot to the
// destination on every node.
func (m *migration) finish(t *testing.T) {
	t.Helper()
	m.finished = true
	m.move(t, "")
	for _, n := range []*redis.Client{m.dst, m.src} {
		if err := n.Do(m.ctx, "CLUSTER", "SETSLOT", m.slot, "NODE", m.dstID).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range m.nodes {
		if n != m.src && n != m.dst {
			if err := n.Do(m.ctx, "CLUSTER", "SETSLOT", m.slot, "NODE", m.dstID).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// snapshot is every key of the slot on either node and its value as
// text (DUMP is no use here: a hash's DUMP follows its table's order,
// which a read may change).
func (m *migration) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range []*redis.Client{m.src, m.dst} {
		keys, err := n.ClusterGetKeysInSlot(m.ctx, m.slot, 100000).Result()
		if err != nil {
			t.Fatal(err)
		}
		conn := n.Conn()
		for _, k := range keys {
			if _, dup := out[k]; dup {
				t.Fatalf("key %s is on both nodes", k)
			}
			out[k] = m.valueText(t, conn, k)
		}
		conn.Close()
	}
	return out
}

// valueText reads key on conn after ASKING: the destination serves an
// importing slot's key only then.
func (m *migration) valueText(t *testing.T, conn *redis.Conn, key string) string {
	t.Helper()
	asking := func(cmd func(p redis.Pipeliner) redis.Cmder) redis.Cmder {
		var c redis.Cmder
		if _, err := conn.Pipelined(m.ctx, func(p redis.Pipeliner) error {
			p.Do(m.ctx, "ASKING")
			c = cmd(p)
			return nil
		}); err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		return c
	}
	typ := asking(func(p redis.Pipeliner) redis.Cmder { return p.Type(m.ctx, key) }).(*redis.StatusCmd).Val()
	var v any
	switch typ {
	case "string":
		v = asking(func(p redis.Pipeliner) redis.Cmder { return p.Get(m.ctx, key) }).(*redis.StringCmd).Val()
	case "hash":
		h := asking(func(p redis.Pipeliner) redis.Cmder { return p.HGetAll(m.ctx, key) }).(*redis.MapStringStringCmd).Val()
		v = h // fmt prints a map's keys sorted
	case "zset":
		v = asking(func(p redis.Pipeliner) redis.Cmder { return p.ZRangeWithScores(m.ctx, key, 0, -1) }).(*redis.ZSliceCmd).Val()
	case "stream":
		v = asking(func(p redis.Pipeliner) redis.Cmder { return p.XRange(m.ctx, key, "-", "+") }).(*redis.XMessageSliceCmd).Val()
	default:
		t.Fatalf("key %s has type %s", key, typ)
	}
	return typ + " " + fmt.Sprint(v)
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func diffSnapshots(a, b map[string]string) string {
	var out string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			out += fmt.Sprintf("  deleted %s\n", k)
		} else if w != v {
			out += fmt.Sprintf("  changed %s: %q -> %q\n", k, v, w)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out += fmt.Sprintf("  created %s\n", k)
		}
	}
	return out
}

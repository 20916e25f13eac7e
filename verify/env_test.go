package verify_test

import (
	"context"
	"crypto/rand"
	"github.com/callverify/callverify/internal/clocktest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
	"github.com/callverify/callverify/verify"
	bolt "go.etcd.io/bbolt"
)

// Numbers of the scenarios.
const (
	outbound   = "+86 571 8888 1234" // official, places calls
	both       = "0571-8888 1235"    // official, both directions
	hotlineRaw = "95188"             // official, inbound only
	fraudRaw   = "+86 170 1234 5678" // on the blocklist
	aliceRaw   = "138 0013 8000"
	bobRaw     = "+86 139 0013 9000"
)

// directory is verify.Directory over the real official numbers of the
// same database (the store reads them when it stamps), with the blocklist
// as a map and a switch that makes it fail like an unreachable backend.
//
// It answers from memory too (verify.IndexedDirectory): by reading the
// store, unless memory holds a number, which then says what a memory that
// lags the store says; and gone makes the store's own answer "not found"
// for a number, as a networked store says between deleting a line and
// marking its calls ended.
type directory struct {
	official *boltstore.BlocklistStore
	mu       sync.Mutex
	blocked  map[phone.Number]string
	memory   map[phone.Number]*verify.Official // nil: not registered, in memory
	gone     map[phone.Number]bool
	down     atomic.Bool
	reads    atomic.Int64 // OfficialNumber calls
}

var _ verify.IndexedDirectory = (*directory)(nil)

func (d *directory) IndexedOfficialNumber(n phone.Number) (verify.Official, error) {
	if d.down.Load() {
		return verify.Official{}, fault.Unavailable(errDown)
	}
	d.mu.Lock()
	o, remembered := d.memory[n]
	d.mu.Unlock()
	switch {
	case remembered && o == nil:
		return verify.Official{}, fault.ErrNotFound
	case remembered:
		return *o, nil
	}
	return d.stored(context.Background(), n)
}

// remember freezes what memory says of n at what the store says now.
func (d *directory) remember(n phone.Number) {
	o, err := d.stored(context.Background(), n)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.memory == nil {
		d.memory = map[phone.Number]*verify.Official{}
	}
	if err != nil {
		d.memory[n] = nil
		return
	}
	d.memory[n] = &o
}

func (d *directory) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	d.reads.Add(1)
	if d.down.Load() {
		return verify.Official{}, fault.Unavailable(errDown)
	}
	d.mu.Lock()
	gone := d.gone[n]
	d.mu.Unlock()
	if gone {
		return verify.Official{}, fault.ErrNotFound
	}
	return d.stored(ctx, n)
}

func (d *directory) stored(ctx context.Context, n phone.Number) (verify.Official, error) {
	o, err := d.official.GetOfficialNumber(ctx, n)
	if err != nil {
		return verify.Official{}, err
	}
	return verify.Official{Number: o.Number, DisplayName: o.DisplayName, PlacesCalls: o.Direction.PlacesCalls(),
		InboundOnly: o.Direction == blocklist.DirectionInboundOnly, Gen: o.Gen}, nil
}

func (d *directory) BlockedCategory(_ context.Context, n phone.Number) (string, bool, error) {
	if d.down.Load() {
		return "", false, fault.Unavailable(errDown)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.blocked[n]
	return c, ok, nil
}

type downErr struct{}

func (downErr) Error() string { return "store is down" }

var errDown = downErr{}

// flakyStore is the real store with a switch that makes every call fail
// the way an unreachable backend does.
type flakyStore struct {
	verify.Store
	down        atomic.Bool
	callerLines atomic.Int64 // lineStore.CallerLine calls
}

// lineStore is flakyStore with the reads that take a caller's official
// record together with its calls (verify.LineReader, verify.CallLineReader),
// as both real stores have them. flakyStore alone hides them, and the
// service then reads the record from the directory. Its GetCallWithLine
// reads as a networked store does: the hinted caller's record, none
// without a hint.
type lineStore struct{ *flakyStore }

func (l lineStore) ListCallsToWithLine(ctx context.Context, callee, caller phone.Number, after time.Time, limit int) ([]verify.Call, verify.CallerLine, error) {
	if err := l.err(); err != nil {
		return nil, verify.CallerLine{}, err
	}
	return l.Store.(verify.LineReader).ListCallsToWithLine(ctx, callee, caller, after, limit)
}

func (l lineStore) GetCallWithLine(ctx context.Context, id string, caller phone.Number) (verify.Call, verify.CallerLine, error) {
	if err := l.err(); err != nil {
		return verify.Call{}, verify.CallerLine{}, err
	}
	c, err := l.Store.GetCall(ctx, id)
	if err != nil || caller == "" {
		return c, verify.CallerLine{}, err
	}
	line, err := l.Store.(verify.CallLineReader).CallerLine(ctx, caller)
	return c, line, err
}

func (l lineStore) CallerLine(ctx context.Context, n phone.Number) (verify.CallerLine, error) {
	l.callerLines.Add(1)
	if err := l.err(); err != nil {
		return verify.CallerLine{}, err
	}
	return l.Store.(verify.CallLineReader).CallerLine(ctx, n)
}

// withStoreLines makes the service read callers' records with the calls,
// from the store (lineStore).
func withStoreLines(c *verify.Config) { c.Store = lineStore{c.Store.(*flakyStore)} }

// eachRecordSource runs test on a service that reads a caller's official
// record from the directory, and on one that reads it from the store with
// the calls (withStoreLines).
func eachRecordSource(t *testing.T, test func(t *testing.T, e *env)) {
	for _, src := range []struct {
		name string
		opts []envOpt
	}{{"directory", nil}, {"store", []envOpt{withStoreLines}}} {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			test(t, newEnv(t, src.opts...))
		})
	}
}

func (f *flakyStore) err() error {
	if f.down.Load() {
		return fault.Unavailable(errDown)
	}
	return nil
}

func (f *flakyStore) GetCall(ctx context.Context, id string) (verify.Call, error) {
	if err := f.err(); err != nil {
		return verify.Call{}, err
	}
	return f.Store.GetCall(ctx, id)
}

func (f *flakyStore) ListCallsTo(ctx context.Context, n phone.Number, after time.Time, limit int) ([]verify.Call, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListCallsTo(ctx, n, after, limit)
}

func (f *flakyStore) ListSigningKeys(ctx context.Context) ([]verify.SigningKey, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListSigningKeys(ctx)
}

func (f *flakyStore) GetDevice(ctx context.Context, n phone.Number, id string) (verify.Device, error) {
	if err := f.err(); err != nil {
		return verify.Device{}, err
	}
	return f.Store.GetDevice(ctx, n, id)
}

type env struct {
	t      testing.TB
	svc    *verify.Service
	clock  *clocktest.Clock
	dir    *directory
	store  *flakyStore
	db     *bolt.DB
	audit  *audit.Recorder
	kek    []byte
	parser *phone.Parser
	alice  phone.Number
	bob    phone.Number
}

var (
	dialer   = audit.Actor{Subject: "dialer-1", Role: "dialer"}
	admin    = audit.Actor{Subject: "admin-1", Role: "admin"}
	customer = audit.Actor{Subject: "cust-alice", Role: "customer"}
)

type envOpt func(*verify.Config)

func withAlg(alg string) envOpt { return func(c *verify.Config) { c.Algorithm = alg } }

func withDirectory(d verify.Directory) envOpt { return func(c *verify.Config) { c.Directory = d } }

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	vs, err := boltstore.NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	bl, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	e := &env{
		t:     t,
		clock: clocktest.New(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)),
		store: &flakyStore{Store: vs},
		db:    db,
		kek:   kek,
	}
	e.audit = audit.NewRecorder(as, e.clock.Now)
	if e.parser, err = phone.NewParser("CN"); err != nil {
		t.Fatal(err)
	}
	e.dir = &directory{official: bl, blocked: map[phone.Number]string{}}
	e.addOfficial(outbound, "示例平台客服", blocklist.DirectionOutbound)
	e.addOfficial(both, "示例平台售后", blocklist.DirectionBoth)
	e.addOfficial(hotlineRaw, "示例平台热线", blocklist.DirectionInboundOnly)
	e.dir.blocked[e.num(fraudRaw)] = "CATEGORY_SCAM"
	e.alice, e.bob = e.num(aliceRaw), e.num(bobRaw)
	e.svc = e.newService(opts...)
	return e
}

// newService is another instance over the same store and clock.
func (e *env) newService(opts ...envOpt) *verify.Service {
	cfg := verify.Config{
		Store: e.store, Directory: e.dir, Audit: e.audit, Phone: e.parser, Now: e.clock.Now,
		Issuer: "callverify", Algorithm: verify.AlgES256, KEK: e.kek,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := verify.NewService(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) num(raw string) phone.Number {
	n, err := e.parser.Parse(raw)
	if err != nil {
		e.t.Fatalf("parse %q: %v", raw, err)
	}
	return n
}

// addOfficial registers an official number in the store, as the numbers
// domain does.
func (e *env) addOfficial(raw, name string, d blocklist.Direction) {
	e.t.Helper()
	n := e.num(raw)
	o := blocklist.OfficialNumber{Number: n, DisplayName: name, Direction: d, CreateTime: e.clock.Now()}
	if _, err := e.dir.official.CreateOfficialNumber(context.Background(), o, e.clock.Now(),
		e.audit.Event(admin, "official_number.create", n.String(), nil, o.Snapshot())); err != nil {
		e.t.Fatalf("register %s: %v", raw, err)
	}
}

// removeOfficial deletes an official number as the numbers domain does,
// which ends its live calls; it returns how many.
func (e *env) removeOfficial(raw string) int {
	e.t.Helper()
	n := e.num(raw)
	_, ended, _, err := e.dir.official.DeleteOfficialNumber(context.Background(), n, e.clock.Now(),
		e.audit.Event(admin, "official_number.delete", n.String(), nil, nil))
	if err != nil {
		e.t.Fatalf("delete %s: %v", raw, err)
	}
	return ended
}

// block puts n on the blocklist as the directory sees it.
func (e *env) block(raw, category string) {
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	e.dir.blocked[e.num(raw)] = category
}

func stampReq(caller, callee string) verify.StampRequest {
	return verify.StampRequest{
		CallerNumber: caller, CalleeNumber: callee, CustomerID: "cust-alice",
		Reason: verify.ReasonRefund, ReasonText: "您申请的退款进度回访", OrderRef: "ORD-20300506-1",
		AgentID: "agent-7", AgentName: "王小明",
	}
}

func (e *env) stamp(caller, callee string) verify.Stamped {
	e.t.Helper()
	st, err := e.svc.StampCall(context.Background(), dialer, stampReq(caller, callee))
	if err != nil {
		e.t.Fatalf("StampCall: %v", err)
	}
	return st
}

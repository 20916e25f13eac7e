package blocklist_test

import (
	"context"
	"errors"
	"github.com/callverify/callverify/internal/clocktest"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

var testPseudonymKey = []byte("0123456789abcdef0123456789abcdef")

var (
	t0      = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	analyst = audit.Actor{Subject: "analyst-1", Role: "analyst"}
	admin   = audit.Actor{Subject: "admin-1", Role: "admin"}
)

// clock is a settable clock: tests move it instead of sleeping.

type env struct {
	svc   *blocklist.Service
	store *boltstore.BlocklistStore
	audit *audit.Recorder
	clock *clocktest.Clock
	cfg   blocklist.Config
}

// newEnv runs the service on the real embedded store in a temp directory.
func newEnv(t testing.TB, tune ...func(*blocklist.Config)) *env {
	t.Helper()
	return newEnvWith(t, boltstore.BlocklistOptions{}, tune...)
}

// newEnvWith is newEnv with store options (the pseudonym key is set here).
func newEnvWith(t testing.TB, opt boltstore.BlocklistOptions, tune ...func(*blocklist.Config)) *env {
	t.Helper()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	opt.PseudonymKey = testPseudonymKey
	st, err := boltstore.NewBlocklistStore(db, opt)
	if err != nil {
		t.Fatal(err)
	}
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	p, err := phone.NewParser("CN")
	if err != nil {
		t.Fatal(err)
	}
	c := clocktest.New(t0)
	rec := audit.NewRecorder(as, c.Now)
	cfg := blocklist.Config{Store: st, Audit: rec, Phone: p, Now: c.Now}
	for _, f := range tune {
		f(&cfg)
	}
	svc, err := blocklist.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &env{svc: svc, store: st, audit: rec, clock: c, cfg: cfg}
}

func (e *env) create(t testing.TB, pattern string, c blocklist.Category) blocklist.Entry {
	t.Helper()
	got, err := e.svc.CreateEntry(context.Background(), analyst, blocklist.Entry{Pattern: pattern, Category: c, Confidence: 90})
	if err != nil {
		t.Fatalf("CreateEntry(%s): %v", pattern, err)
	}
	return got
}

func (e *env) events(t testing.TB, action string) []audit.Event {
	t.Helper()
	evs, _, err := e.audit.List(context.Background(), audit.Filter{Action: action}, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// wantFault checks err's kind and that its client message contains frag.
func wantFault(t *testing.T, err, kind error, frag string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want kind %v", err, kind)
	}
	msg, ok := fault.Message(err)
	if !ok {
		t.Fatalf("err %v carries no client message", err)
	}
	if frag != "" && !contains(msg, frag) {
		t.Errorf("message %q does not mention %q", msg, frag)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func auditFilter(actor, action string) audit.Filter {
	return audit.Filter{Actor: actor, Action: action}
}

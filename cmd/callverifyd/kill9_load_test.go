package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"

	"github.com/callverify/callverify/internal/testbin"
)

// TestAcknowledgedStampsSurviveKill9UnderLoad kills the real binary with
// SIGKILL while 50 dialers stamp calls at once (so that the stamps share
// commits), restarts it, and checks that every stamp it acknowledged is
// there, and that nothing is half-written: the calls the caller's index
// lists, the calls that can be read and the "call.stamp" audit records are
// the same set.
func TestAcknowledgedStampsSurviveKill9UnderLoad(t *testing.T) {
	t.Parallel() // its own binary, data directory and ports
	server, cli := buildBinaries(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	grpcAddr, httpAddr := testbin.FreeAddr(t), testbin.FreeAddr(t)
	d := start(t, server, dataDir, grpcAddr, httpAddr)
	admin := mint(t, cli, dataDir, "--role", "admin", "--sub", "alice")
	dialer := mint(t, cli, dataDir, "--role", "dialer", "--sub", "dialer-1")
	const line = "+864008008888"
	if code, body := do(t, "POST", d.http+"/v1/official-numbers", admin,
		fmt.Sprintf(`{"number":%q,"displayName":"CS","direction":"DIRECTION_OUTBOUND"}`, line)); code != 200 {
		t.Fatalf("create %s: %d %s", line, code, body)
	}

	dial := func() *grpc.ClientConn {
		conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	calls := callverifyv1.NewCallServiceClient(dial())
	as := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}

	const dialers, before = 50, 300 // kill once this many stamps are acknowledged
	var (
		mu     sync.Mutex
		acked  = map[string]*callverifyv1.Call{}
		killed atomic.Bool
		wg     sync.WaitGroup
	)
	load, stopLoad := context.WithCancel(as(dialer))
	defer stopLoad()
	for i := range dialers {
		wg.Go(func() {
			req := &callverifyv1.StampCallRequest{
				CallerNumber: line, CalleeNumber: fmt.Sprintf("+86138%08d", i),
				Reason: callverifyv1.CallReason_CALL_REASON_REFUND, AgentId: fmt.Sprintf("a-%d", i), AgentName: "Wang",
			}
			for load.Err() == nil {
				r, err := calls.StampCall(load, req)
				if err != nil {
					if !killed.Load() {
						t.Errorf("StampCall before the kill: %v", err)
					}
					return
				}
				mu.Lock()
				acked[r.GetCall().GetCallId()] = r.GetCall()
				mu.Unlock()
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d stamps acknowledged in 30s; logs:\n%s", n, d.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Mid-load: the dialers are still stamping, with commits in flight.
	killed.Store(true)
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()
	stopLoad()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d stamps acknowledged before the kill", len(acked))

	d = start(t, server, dataDir, grpcAddr, httpAddr)
	defer func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	}()
	// A new connection: the old one saw the server die and backs off.
	conn := dial()
	calls = callverifyv1.NewCallServiceClient(conn)
	actx := as(admin)

	// Every acknowledged stamp is there, as it was acknowledged.
	for id, want := range acked {
		got, err := calls.GetCall(actx, &callverifyv1.GetCallRequest{CallId: id})
		if err != nil {
			t.Errorf("acknowledged call %s after kill -9: %v", id, err)
			continue
		}
		if got.GetCallerNumber() != want.GetCallerNumber() || got.GetCalleeNumber() != want.GetCalleeNumber() ||
			got.GetAgentId() != want.GetAgentId() || got.GetState() != callverifyv1.CallState_CALL_STATE_ACTIVE {
			t.Errorf("call %s after kill -9 = %v, want %v (ACTIVE)", id, got, want)
		}
	}

	// Nothing half-written: the line's index, the records and the audit
	// log name the same calls.
	indexed := map[string]bool{}
	for token := ""; ; {
		r, err := calls.ListCalls(actx, &callverifyv1.ListCallsRequest{CallerNumber: line, PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatalf("ListCalls: %v", err)
		}
		for _, c := range r.GetCalls() {
			indexed[c.GetCallId()] = true
		}
		if token = r.GetNextPageToken(); token == "" {
			break
		}
	}
	audited := map[string]bool{}
	bl := callverifyv1.NewBlocklistServiceClient(conn)
	for token := ""; ; {
		r, err := bl.ListAuditEvents(actx, &callverifyv1.ListAuditEventsRequest{Action: "call.stamp", PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatalf("ListAuditEvents: %v", err)
		}
		for _, e := range r.GetEvents() {
			audited[e.GetTarget()] = true
		}
		if token = r.GetNextPageToken(); token == "" {
			break
		}
	}
	if !maps.Equal(indexed, audited) {
		t.Errorf("after kill -9 the line's index lists %d calls and the audit log %d stamps; want the same calls", len(indexed), len(audited))
	}
	var missing []string
	for id := range acked {
		if !indexed[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("%d acknowledged calls are missing from the line's index: %v", len(missing), missing)
	}
	t.Logf("%d calls stored (%d acknowledged)", len(indexed), len(acked))
}

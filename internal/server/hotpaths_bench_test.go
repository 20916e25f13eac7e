package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/testenv"
)

// parallelism times GOMAXPROCS (2 here) clients: c=50, as the issue's
// ghz figures.
const parallelism = 25

// parallel runs body on parallelism*GOMAXPROCS goroutines and reports,
// besides the wall time, the CPU time the whole process (clients and
// server) spent per operation: on a machine shared with other work the
// wall time swings, the CPU per operation much less.
func parallel(b *testing.B, body func(pb *testing.PB)) {
	b.Helper()
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	before := redistest.ProcessCPUTime(b)
	b.RunParallel(body)
	b.ReportMetric(float64((redistest.ProcessCPUTime(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkHotPaths runs the hot RPCs of issue 16 on the embedded store,
// over real gRPC and REST on loopback with parallel clients, next to an
// empty handler (gRPC health) in the same run. Quote each as a ratio to
// health, and REST to gRPC: the machine is shared, the ns are not stable.
//
//	go test -run '^$' -bench HotPaths -benchtime 1s -count 5 ./internal/server/
func BenchmarkHotPaths(b *testing.B) {
	env := testenv.New(b, func(c *appConfig) { c.LogLevel = "error" })
	const customer = "+8613800138000"
	// Not env.Ctx: its 30 s deadline can end before the last sub-benchmark.
	bearer := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	actx := bearer(env.Admin())
	if _, err := callverifyv1.NewAdminServiceClient(env.Conn).CreateOfficialNumber(actx, &callverifyv1.CreateOfficialNumberRequest{OfficialNumber: &callverifyv1.OfficialNumber{
		Number: "+864008008888", DisplayName: "Customer service", Direction: callverifyv1.Direction_DIRECTION_OUTBOUND,
	}}); err != nil {
		b.Fatal(err)
	}
	calls := callverifyv1.NewCallServiceClient(env.Conn)
	stamp := &callverifyv1.StampCallRequest{
		CallerNumber: "+864008008888", CalleeNumber: customer, Reason: callverifyv1.CallReason_CALL_REASON_REFUND,
		AgentId: "a-7", AgentName: "Wang",
	}
	dialer := env.Dialer()
	dctx := bearer(dialer)
	st, err := calls.StampCall(dctx, stamp)
	if err != nil {
		b.Fatal(err)
	}
	health := healthpb.NewHealthClient(env.Conn)
	vc := callverifyv1.NewVerifyServiceClient(env.Conn)
	custTok := env.Customer(customer)
	cctx := bearer(custTok)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	rest := func(b *testing.B, path, tok string, body []byte) {
		b.Helper()
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("POST", env.HTTPURL+path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}

	b.Run("health", func(b *testing.B) {
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				if _, err := health.Check(actx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("CheckCaller/grpc", func(b *testing.B) {
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				r, err := vc.CheckCaller(cctx, &callverifyv1.CheckCallerRequest{CallerNumber: "+864008008888"})
				if err != nil || r.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED {
					b.Errorf("CheckCaller: %v, %v", r.GetVerdict(), err)
					return
				}
			}
		})
	})
	b.Run("CheckCaller/rest", func(b *testing.B) {
		rest(b, "/v1/verify/caller", custTok, []byte(`{"callerNumber":"+864008008888"}`))
	})
	b.Run("VerifyToken/grpc", func(b *testing.B) {
		req := &callverifyv1.VerifyTokenRequest{Token: st.GetToken(), CallerNumber: "+864008008888"}
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				r, err := vc.VerifyToken(dctx, req)
				if err != nil || !r.GetValid() {
					b.Errorf("VerifyToken: %v, %v", r.GetFailure(), err)
					return
				}
			}
		})
	})
	b.Run("VerifyToken/rest", func(b *testing.B) {
		rest(b, "/v1/tokens:verify", dialer, []byte(`{"token":"`+st.GetToken()+`","callerNumber":"+864008008888"}`))
	})
	b.Run("StampCall/grpc", func(b *testing.B) {
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				if _, err := calls.StampCall(dctx, stamp); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

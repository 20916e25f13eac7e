package server_test

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/testenv"
)

// BenchmarkBackends measures, over real gRPC on loopback with parallel
// clients, an empty handler (gRPC health), CheckCaller of a verified call
// and of a blocked number, and StampCall (the verified check and the stamp
// also with ~50 concurrent callers), on the embedded store
// and on Redis, in one run. Quote each as a ratio to health in the same
// run (at the same concurrency): the machine is shared.
//
//	go test -run '^$' -bench Backends -benchtime 3s ./internal/server/
func BenchmarkBackends(b *testing.B) {
	for _, be := range []struct {
		name string
		opts func(b *testing.B) []testenv.Option
	}{
		{"embedded", func(*testing.B) []testenv.Option { return nil }},
		{"redis", func(b *testing.B) []testenv.Option {
			srv := redistest.Standalone(b)
			return []testenv.Option{testenv.OnRedis(b, srv.Addr())}
		}},
	} {
		b.Run(be.name, func(b *testing.B) {
			opts := append([]testenv.Option{func(c *appConfig) { c.LogLevel = "error" }}, be.opts(b)...)
			env := testenv.New(b, opts...)
			const customer = "+8613800138000"
			ctx := env.Ctx(env.Admin())
			if _, err := callverifyv1.NewAdminServiceClient(env.Conn).CreateOfficialNumber(ctx, &callverifyv1.CreateOfficialNumberRequest{OfficialNumber: &callverifyv1.OfficialNumber{
				Number: "+864008008888", DisplayName: "Customer service", Direction: callverifyv1.Direction_DIRECTION_OUTBOUND,
			}}); err != nil {
				b.Fatal(err)
			}
			calls := callverifyv1.NewCallServiceClient(env.Conn)
			stamp := &callverifyv1.StampCallRequest{
				CallerNumber: "+864008008888", CalleeNumber: customer, Reason: callverifyv1.CallReason_CALL_REASON_REFUND,
				AgentId: "a-7", AgentName: "Wang",
			}
			dctx := env.Ctx(env.Dialer())
			if _, err := calls.StampCall(dctx, stamp); err != nil {
				b.Fatal(err)
			}
			health := healthpb.NewHealthClient(env.Conn)
			b.Run("health", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			vc := callverifyv1.NewVerifyServiceClient(env.Conn)
			cctx := env.Ctx(env.Customer(customer))
			checkVerified := func(b *testing.B) func(*testing.PB) {
				return func(pb *testing.PB) {
					for pb.Next() {
						r, err := vc.CheckCaller(cctx, &callverifyv1.CheckCallerRequest{CallerNumber: "+864008008888"})
						if err != nil || r.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED {
							b.Errorf("CheckCaller: %v, %v", r.GetVerdict(), err)
							return
						}
					}
				}
			}
			b.Run("CheckCaller", func(b *testing.B) { b.RunParallel(checkVerified(b)) })
			// A blocked number: its verdict needs no call, so it is
			// answered from memory on either backend.
			if _, err := callverifyv1.NewBlocklistServiceClient(env.Conn).CreateEntry(env.Ctx(env.Analyst()), &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
				Pattern: "+8617012345678", Category: callverifyv1.Category_CATEGORY_SCAM,
			}}); err != nil {
				b.Fatal(err)
			}
			b.Run("CheckCaller-fraud", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r, err := vc.CheckCaller(cctx, &callverifyv1.CheckCallerRequest{CallerNumber: "+8617012345678"})
						if err != nil || r.GetVerdict() != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD {
							b.Errorf("CheckCaller: %v, %v", r.GetVerdict(), err)
							return
						}
					}
				})
			})
			b.Run("StampCall", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := calls.StampCall(dctx, stamp); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			// ~50 concurrent callers, as the load figures are taken: the
			// writes share commits (boltstore's group commit), and health
			// at the same concurrency is their baseline.
			c50 := max(1, 50/runtime.GOMAXPROCS(0))
			b.Run("health-c50", func(b *testing.B) {
				b.SetParallelism(c50)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("CheckCaller-c50", func(b *testing.B) {
				b.SetParallelism(c50)
				b.RunParallel(checkVerified(b))
			})
			b.Run("StampCall-c50", func(b *testing.B) {
				b.SetParallelism(c50)
				var (
					mu   sync.Mutex
					took []time.Duration
				)
				b.RunParallel(func(pb *testing.PB) {
					var mine []time.Duration
					defer func() {
						mu.Lock()
						took = append(took, mine...)
						mu.Unlock()
					}()
					for pb.Next() {
						start := time.Now()
						if _, err := calls.StampCall(dctx, stamp); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(start))
					}
				})
				if len(took) > 0 {
					slices.Sort(took)
					b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
				}
			})
		})
	}
}

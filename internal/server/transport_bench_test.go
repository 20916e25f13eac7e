package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// BenchmarkTransport compares one cheap authenticated RPC (CheckCaller of
// an unknown number) over gRPC and over the in-process REST gateway, with
// parallel clients on loopback. Quote the REST/gRPC ratio, not the ns.
func BenchmarkTransport(b *testing.B) {
	env := testenv.New(b, func(c *appConfig) { c.LogLevel = "error" })
	tok := env.Customer("+8613800138000")
	b.Run("grpc", func(b *testing.B) {
		vc := callverifyv1.NewVerifyServiceClient(env.Conn)
		ctx := env.Ctx(tok)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := vc.CheckCaller(ctx, &callverifyv1.CheckCallerRequest{CallerNumber: "+8613900139000"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("rest", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("POST", env.HTTPURL+"/v1/verify/caller", strings.NewReader(`{"callerNumber":"+8613900139000"}`))
				req.Header.Set("Authorization", "Bearer "+tok)
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
	})
}

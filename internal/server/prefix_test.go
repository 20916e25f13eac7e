package server_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// The console's prefix search: ListEntries with pattern_prefix lists the
// entries under the prefix, page by page, alike over gRPC and REST.
func TestListEntriesByPatternPrefixOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	an := env.Analyst()
	for _, p := range []string{"+86170*", "+8617012345678", "+86170123*", "+8617112345678", "+86171*"} {
		if r := env.Do("POST", "/v1/blocklist/entries", an, map[string]any{"pattern": p, "category": "CATEGORY_SCAM"}); r.Status != 200 {
			t.Fatalf("create %s: HTTP %d %s", p, r.Status, r.Body)
		}
	}
	for _, transport := range []string{"grpc", "rest"} {
		conn := grpc.ClientConnInterface(env.Conn)
		if transport == "rest" {
			conn = env.REST()
		}
		c := callverifyv1.NewBlocklistServiceClient(conn)
		var got []string
		tok := ""
		for range 5 {
			resp, err := c.ListEntries(env.Ctx(an), &callverifyv1.ListEntriesRequest{PatternPrefix: "+86170", PageSize: 2, PageToken: tok})
			if err != nil {
				t.Fatalf("%s: ListEntries: %v", transport, err)
			}
			if resp.GetTotalSize() != 0 {
				t.Errorf("%s: total_size %d with a prefix, want 0 (not counted)", transport, resp.GetTotalSize())
			}
			for _, e := range resp.GetEntries() {
				got = append(got, e.GetPattern())
			}
			if tok = resp.GetNextPageToken(); tok == "" {
				break
			}
		}
		if want := "[+86170* +86170123* +8617012345678]"; fmt.Sprint(got) != want {
			t.Errorf("%s: prefix +86170 listed %v, want %s", transport, got, want)
		}
		_, err := c.ListEntries(env.Ctx(an), &callverifyv1.ListEntriesRequest{PatternPrefix: "+86 17x"})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: a prefix with letters: %v, want INVALID_ARGUMENT", transport, err)
		}
	}
}

package server_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

func TestOfficialNumbersOverREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	admin := env.Admin()

	resp := env.Do("POST", "/v1/official-numbers", admin, map[string]any{
		"number": "95188", "displayName": "Customer service hotline", "direction": "DIRECTION_INBOUND_ONLY",
	})
	if resp.Status != http.StatusOK {
		t.Fatalf("create: status %d, body %s", resp.Status, resp.Body)
	}
	var o callverifyv1.OfficialNumber
	resp.Into(t, &o)
	if got, want := o.GetNumber(), "+8695188"; got != want {
		t.Errorf("number = %q, want %q (normalised)", got, want)
	}
	if got, want := o.GetCreateBy(), "admin-1"; got != want {
		t.Errorf("create_by = %q, want %q", got, want)
	}
	// snake_case input is accepted too (protojson).
	resp = env.Do("POST", "/v1/official-numbers", admin, `{"number":"400-800-8888","display_name":"Outbound","direction":"DIRECTION_OUTBOUND"}`)
	if resp.Status != http.StatusOK {
		t.Fatalf("create with snake_case: status %d, body %s", resp.Status, resp.Body)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"duplicate", `{"number":"+86 95188","displayName":"x","direction":"DIRECTION_BOTH"}`, http.StatusConflict, "already registered"},
		{"bad number", `{"number":"not a number","displayName":"x","direction":"DIRECTION_BOTH"}`, http.StatusBadRequest, "number contains letters"},
		{"no direction", `{"number":"+8657188881234","displayName":"x"}`, http.StatusBadRequest, "direction must be"},
		{"no name", `{"number":"+8657188881234","direction":"DIRECTION_BOTH"}`, http.StatusBadRequest, "display_name is required"},
		{"unknown field", `{"number":"+8657188881234","displayName":"x","direction":"DIRECTION_BOTH","colour":"red"}`, http.StatusBadRequest, "unknown field"},
	} {
		resp := env.Do("POST", "/v1/official-numbers", admin, tc.body)
		if resp.Status != tc.status || !strings.Contains(string(resp.Body), tc.msg) {
			t.Errorf("%s: status %d body %s, want %d with %q", tc.name, resp.Status, resp.Body, tc.status, tc.msg)
		}
	}

	resp = env.Do("GET", "/v1/official-numbers", admin, nil)
	var list callverifyv1.ListOfficialNumbersResponse
	resp.Into(t, &list)
	if got, want := len(list.GetOfficialNumbers()), 2; got != want {
		t.Fatalf("list has %d numbers, want %d: %s", got, want, resp.Body)
	}
	if resp := env.Do("GET", "/v1/official-numbers", env.Customer("+8613800138000"), nil); resp.Status != http.StatusForbidden {
		t.Errorf("customer lists official numbers: status %d, want 403", resp.Status)
	}
	if resp := env.Do("GET", "/v1/official-numbers", "", nil); resp.Status != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", resp.Status)
	}
	if resp := env.Do("GET", "/v1/official-numbers", "not-a-jwt", nil); resp.Status != http.StatusUnauthorized {
		t.Errorf("garbage token: status %d, want 401", resp.Status)
	}

	if resp := env.Do("DELETE", "/v1/official-numbers/%2B8695188", admin, nil); resp.Status != http.StatusOK {
		t.Fatalf("delete: status %d body %s", resp.Status, resp.Body)
	}
	if resp := env.Do("DELETE", "/v1/official-numbers/95188", admin, nil); resp.Status != http.StatusNotFound {
		t.Errorf("second delete: status %d, want 404", resp.Status)
	}
}

func TestOfficialNumbersOverGRPCSurviveRestart(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	c := callverifyv1.NewAdminServiceClient(env.Conn)
	ctx := env.Ctx(env.Admin())
	for _, n := range []string{"+86 571 8888 1234", "0571-8888 1235", "+44 20 7946 0958"} {
		if _, err := c.CreateOfficialNumber(ctx, &callverifyv1.CreateOfficialNumberRequest{OfficialNumber: &callverifyv1.OfficialNumber{
			Number: n, DisplayName: "Line " + n, Direction: callverifyv1.Direction_DIRECTION_OUTBOUND,
		}}); err != nil {
			t.Fatalf("create %s: %v", n, err)
		}
	}
	_, err := c.CreateOfficialNumber(env.Ctx(env.Analyst()), &callverifyv1.CreateOfficialNumberRequest{})
	if got, want := status.Code(err), codes.PermissionDenied; got != want {
		t.Errorf("analyst creates: code %v, want %v", got, want)
	}
	_, err = c.CreateOfficialNumber(ctx, &callverifyv1.CreateOfficialNumberRequest{})
	if got, want := status.Code(err), codes.InvalidArgument; got != want {
		t.Errorf("empty request: code %v, want %v", got, want)
	}

	env.Restart()
	c = callverifyv1.NewAdminServiceClient(env.Conn)
	ctx = env.Ctx(env.Admin())
	list, err := c.ListOfficialNumbers(ctx, &callverifyv1.ListOfficialNumbersRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(list.GetOfficialNumbers()), 2; got != want || list.GetNextPageToken() == "" {
		t.Fatalf("first page: %d numbers and next token %q, want %d and a token", got, list.GetNextPageToken(), want)
	}
	rest, err := c.ListOfficialNumbers(ctx, &callverifyv1.ListOfficialNumbersRequest{PageSize: 2, PageToken: list.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rest.GetOfficialNumbers()); got != 1 || rest.GetNextPageToken() != "" {
		t.Errorf("second page: %d numbers, token %q; want 1 and none", got, rest.GetNextPageToken())
	}
	if _, err := c.DeleteOfficialNumber(ctx, &callverifyv1.DeleteOfficialNumberRequest{Number: "+8657188881235"}); err != nil {
		t.Errorf("delete after restart: %v", err)
	}
}

func TestPlainHTTPEndpointsAndHealth(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/openapi.json", 200, `"/v1/calls"`},
		{"/metrics", 200, "go_goroutines"},
	} {
		resp := env.Do("GET", tc.path, "", nil)
		if resp.Status != tc.status || !strings.Contains(string(resp.Body), tc.want) {
			t.Errorf("GET %s: %d %.200s, want %d containing %q", tc.path, resp.Status, resp.Body, tc.status, tc.want)
		}
	}
	// A REST call and a gRPC call are counted alike.
	env.Do("GET", "/v1/official-numbers", env.Admin(), nil)
	if _, err := callverifyv1.NewAdminServiceClient(env.Conn).ListOfficialNumbers(env.Ctx(env.Admin()), &callverifyv1.ListOfficialNumbersRequest{}); err != nil {
		t.Fatal(err)
	}
	metrics := string(env.Do("GET", "/metrics", "", nil).Body)
	if want := `callverify_rpc_requests_total{code="OK",method="/callverify.v1.AdminService/ListOfficialNumbers"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q", want)
	}
	h, err := healthpb.NewHealthClient(env.Conn).Check(env.Ctx(""), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.GetStatus(), healthpb.HealthCheckResponse_SERVING; got != want {
		t.Errorf("gRPC health = %v, want %v", got, want)
	}
}

func TestEveryAnswerCarriesARequestID(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	resp := env.Do("GET", "/v1/official-numbers", env.Admin(), nil)
	if id := resp.Header.Get("X-Request-Id"); len(id) != 16 {
		t.Errorf("REST X-Request-Id = %q, want a 16-hex-digit id", id)
	}
	var hdr metadata.MD
	_, err := callverifyv1.NewAdminServiceClient(env.Conn).ListOfficialNumbers(
		metadata.AppendToOutgoingContext(env.Ctx(env.Admin()), "x-request-id", "trace-42"),
		&callverifyv1.ListOfficialNumbersRequest{}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("x-request-id"); len(got) != 1 || got[0] != "trace-42" {
		t.Errorf("gRPC x-request-id = %v, want the client's own [trace-42]", got)
	}
	if !strings.Contains(env.Logs.String(), "request_id=trace-42") {
		t.Errorf("the log does not name request trace-42")
	}
}

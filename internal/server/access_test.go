package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/testenv"
)

// apiMethods lists every RPC of the API with its REST route, read from the
// proto's google.api.http annotations.
type apiMethod struct {
	full             string // "/callverify.v1.CallService/StampCall"
	desc             protoreflect.MethodDescriptor
	httpMethod, path string
}

func apiMethods(t *testing.T) []apiMethod {
	t.Helper()
	var out []apiMethod
	fds := []protoreflect.FileDescriptor{
		callverifyv1.File_callverify_v1_call_proto, callverifyv1.File_callverify_v1_verify_proto,
		callverifyv1.File_callverify_v1_blocklist_proto, callverifyv1.File_callverify_v1_admin_proto,
		callverifyv1.File_callverify_v1_callback_proto,
	}
	vars := regexp.MustCompile(`\{[^}]+\}`)
	for _, fd := range fds {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				rule := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
				m := apiMethod{full: fmt.Sprintf("/%s/%s", sd.FullName(), md.Name()), desc: md}
				switch p := rule.GetPattern().(type) {
				case *annotations.HttpRule_Get:
					m.httpMethod, m.path = http.MethodGet, p.Get
				case *annotations.HttpRule_Post:
					m.httpMethod, m.path = http.MethodPost, p.Post
				case *annotations.HttpRule_Patch:
					m.httpMethod, m.path = http.MethodPatch, p.Patch
				case *annotations.HttpRule_Delete:
					m.httpMethod, m.path = http.MethodDelete, p.Delete
				default:
					t.Fatalf("%s has no REST route", m.full)
				}
				// A path variable gets a value that is well formed enough
				// to reach the handler.
				m.path = vars.ReplaceAllString(m.path, "x1")
				out = append(out, m)
			}
		}
	}
	if len(out) < 29 {
		t.Fatalf("found %d RPCs, want the whole API", len(out))
	}
	return out
}

// allowed is API.md's "who calls what", written out again independently of
// the server's table so that a slip in either shows.
var allowed = map[string][]auth.Role{
	"CallService/StampCall":           {auth.RoleDialer},
	"CallService/GetCall":             {auth.RoleDialer, auth.RoleAnalyst, auth.RoleAdmin},
	"CallService/EndCall":             {auth.RoleDialer},
	"CallService/GetConfirmationCode": {auth.RoleDialer},
	"CallService/ListCalls":           {auth.RoleAdmin},
	"CallService/EndCalls":            {auth.RoleAdmin},
	"VerifyService/CheckCaller":       {auth.RoleCustomer},
	"VerifyService/LookupNumber":      nil, // anonymous
	"VerifyService/ListMyCalls":       {auth.RoleCustomer},
	"VerifyService/ConfirmCode":       {auth.RoleCustomer},
	"VerifyService/VerifyToken":       {auth.RoleCustomer, auth.RoleDialer, auth.RoleAnalyst, auth.RoleAdmin},
	"VerifyService/ReportCaller":      {auth.RoleCustomer},
	"VerifyService/EnrollDevice":      {auth.RoleCustomer},
	"VerifyService/DeleteDevice":      {auth.RoleCustomer},
	"VerifyService/ListDevices":       {auth.RoleCustomer},
	"VerifyService/UpdatePreferences": {auth.RoleCustomer},
	"VerifyService/WatchMyCalls":      {auth.RoleCustomer},
	"VerifyService/RequestCallback":   {auth.RoleCustomer},
	"VerifyService/ListMyCallbacks":   {auth.RoleCustomer},
	"VerifyService/CancelCallback":    {auth.RoleCustomer},
	"CallbackService/ListCallbacks":   {auth.RoleDialer},
	"CallbackService/ClaimCallback":   {auth.RoleDialer},
}

func rolesFor(full string) (roles []auth.Role, anonymous bool) {
	short := regexp.MustCompile(`^/callverify\.v1\.`).ReplaceAllString(full, "")
	if r, ok := allowed[short]; ok {
		return r, r == nil
	}
	switch {
	case regexp.MustCompile(`^BlocklistService/`).MatchString(short):
		return []auth.Role{auth.RoleAnalyst, auth.RoleAdmin}, false
	case regexp.MustCompile(`^AdminService/`).MatchString(short):
		return []auth.Role{auth.RoleAdmin}, false
	}
	return nil, false
}

// TestEveryRPCEnforcesItsRolesOverGRPCAndREST calls every RPC as every role
// and with no token, over gRPC and over REST: refused callers get
// UNAUTHENTICATED/401 or PERMISSION_DENIED/403, allowed ones get past the
// gate (whatever the handler then says of an empty request).
func TestEveryRPCEnforcesItsRolesOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.LookupBurst = 1000 })
	tokens := map[string]string{
		"none":     "",
		"customer": env.Customer("+8613800138000"),
		"dialer":   env.Dialer(),
		"analyst":  env.Analyst(),
		"admin":    env.Admin(),
	}
	for _, m := range apiMethods(t) {
		roles, anonymous := rolesFor(m.full)
		if roles == nil && !anonymous {
			t.Errorf("%s: not in the test's table of API.md", m.full)
			continue
		}
		for who, tok := range tokens {
			want := codes.OK // past the gate
			switch {
			case anonymous:
			case who == "none":
				want = codes.Unauthenticated
			case !contains(roles, auth.Role(who)):
				want = codes.PermissionDenied
			}
			t.Run(fmt.Sprintf("%s/%s/grpc", m.full, who), func(t *testing.T) {
				got := status.Code(callEmpty(env, m, tok))
				checkGate(t, got, want)
			})
			t.Run(fmt.Sprintf("%s/%s/rest", m.full, who), func(t *testing.T) {
				body := any(nil)
				if m.httpMethod == http.MethodPost || m.httpMethod == http.MethodPatch {
					body = "{}"
				}
				var got codes.Code
				if m.desc.IsStreamingServer() && m.httpMethod == http.MethodGet {
					// A live stream does not end: the status is the answer.
					got = httpToCode(streamStatus(t, env, m.path, tok))
				} else {
					got = httpToCode(env.Do(m.httpMethod, m.path, tok, body).Status)
				}
				checkGate(t, got, want)
			})
		}
	}
}

func checkGate(t *testing.T, got, want codes.Code) {
	t.Helper()
	switch want {
	case codes.OK:
		if got == codes.Unauthenticated || got == codes.PermissionDenied {
			t.Errorf("allowed caller was refused at the gate: %v", got)
		}
	default:
		if got != want {
			t.Errorf("code = %v, want %v", got, want)
		}
	}
}

func httpToCode(s int) codes.Code {
	switch s {
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	}
	return codes.OK
}

func contains(rs []auth.Role, r auth.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// callEmpty calls m over gRPC with an empty request.
func callEmpty(env *testenv.Env, m apiMethod, tok string) error {
	ctx := env.Ctx(tok)
	in := dynamicpb.NewMessage(m.desc.Input())
	out := dynamicpb.NewMessage(m.desc.Output())
	if !m.desc.IsStreamingClient() && !m.desc.IsStreamingServer() {
		return env.Conn.Invoke(ctx, m.full, in, out)
	}
	st, err := env.Conn.NewStream(ctx, &grpc.StreamDesc{
		ServerStreams: m.desc.IsStreamingServer(), ClientStreams: m.desc.IsStreamingClient(),
	}, m.full)
	if err != nil {
		return err
	}
	if m.desc.IsStreamingClient() {
		if err := st.CloseSend(); err != nil {
			return err
		}
	} else {
		if err := st.SendMsg(in); err != nil {
			return err
		}
		if err := st.CloseSend(); err != nil {
			return err
		}
	}
	for {
		if err := st.RecvMsg(out); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.desc.IsStreamingServer() && !m.desc.IsStreamingClient() {
			return nil // a message came: past the gate (a live stream never ends)
		}
	}
}

// streamStatus is the HTTP status of a GET that streams, read from its
// headers without waiting for the end of the body.
func streamStatus(t *testing.T, env *testenv.Env, path, tok string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.HTTPURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

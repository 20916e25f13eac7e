package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// openAPIOperations are the document's operations, "GET /v1/calls/{callId}".
func openAPIOperations(t *testing.T) map[string]map[string]any {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(callverifyv1.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]map[string]any{}
	for path, item := range doc.Paths {
		for method, op := range item {
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// gatewayPath is a proto route in the document's spelling: {entry.entry_id}
// becomes {entry.entryId}.
func gatewayPath(path string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllStringFunc(path, func(v string) string {
		parts := strings.Split(strings.Trim(v, "{}"), ".")
		for i, p := range parts {
			words := strings.Split(p, "_")
			for j := 1; j < len(words); j++ {
				words[j] = strings.ToUpper(words[j][:1]) + words[j][1:]
			}
			parts[i] = strings.Join(words, "")
		}
		return "{" + strings.Join(parts, ".") + "}"
	})
}

// The OpenAPI document and the server agree: every route served is
// documented, every documented route is served, and an anonymous RPC
// carries no security requirement while every other one does.
func TestTheOpenAPIDocumentDescribesExactlyWhatIsServed(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ops := openAPIOperations(t)

	served := map[string]bool{}
	for _, m := range apiMethods(t) {
		rule := proto.GetExtension(m.desc.Options(), annotations.E_Http).(*annotations.HttpRule)
		path := rule.GetGet() + rule.GetPost() + rule.GetPatch() + rule.GetDelete() + rule.GetPut()
		served[m.httpMethod+" "+gatewayPath(path)] = true
	}
	for _, p := range env.HTTPRoutes {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Errorf("route %q has no method: a route answers the methods it documents", p)
			continue
		}
		path = strings.TrimSuffix(path, "{$}")
		if path == "/assets/" {
			path += "{file}" // a directory of files, not a page
		}
		served[method+" "+path] = true
	}
	for route := range served {
		if _, ok := ops[route]; !ok {
			t.Errorf("%s is served but not in the OpenAPI document", route)
		}
	}
	for route := range ops {
		if !served[route] {
			t.Errorf("%s is in the OpenAPI document but not served", route)
		}
	}

	// Documented routes answer: not the router's 404 or 405. A path's
	// variables are filled with a word; the handlers may then refuse.
	vars := regexp.MustCompile(`\{[^}]+\}`)
	for route := range ops {
		method, path, _ := strings.Cut(route, " ")
		target := vars.ReplaceAllString(path, "x1")
		if path == "/assets/{file}" {
			target = "/assets/api.js"
		}
		req, err := http.NewRequest(method, env.HTTPURL+target, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodGet && strings.HasSuffix(path, ":watch") {
			continue // a stream: served is proven by the watch tests over REST
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		body := make([]byte, 256)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		routerSays := string(body[:n])
		if resp.StatusCode == http.StatusMethodNotAllowed ||
			resp.StatusCode == http.StatusNotFound && (strings.Contains(routerSays, `"message":"Not Found"`) || strings.HasPrefix(routerSays, "404 page not found")) {
			t.Errorf("%s is documented but the server says %d %q", route, resp.StatusCode, routerSays)
		}
	}

	// Anonymous RPCs need no token; every other RPC names its roles.
	for route, op := range ops {
		roles, hasRoles := op["x-callverify-roles"].([]any)
		security, hasSecurity := op["security"].([]any)
		switch {
		case hasRoles && len(roles) == 0 && !(hasSecurity && len(security) == 0):
			t.Errorf("%s is anonymous but carries a security requirement", route)
		case hasRoles && len(roles) > 0 && hasSecurity:
			t.Errorf("%s needs a role (%v) but its security requirement is lifted", route, roles)
		}
	}
	if op := ops["POST /v1/verify/number"]; op == nil || op["security"] == nil || len(op["security"].([]any)) != 0 {
		t.Errorf("LookupNumber (anonymous) does not lift the security requirement: %v", op)
	}
	for _, route := range []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /.well-known/jwks.json", "GET /openapi.json"} {
		if op := ops[route]; op == nil || len(op["security"].([]any)) != 0 {
			t.Errorf("%s is not documented as anonymous", route)
		}
	}
	if got := ops["GET /v1/blocklist:export"]["produces"]; !slices.Equal(asStrings(got), []string{"application/x-ndjson"}) {
		t.Errorf("export produces %v, want NDJSON", got)
	}
	if got := ops["POST /v1/blocklist:import"]["consumes"]; !slices.Equal(asStrings(got), []string{"application/x-ndjson"}) {
		t.Errorf("import consumes %v, want NDJSON", got)
	}
	if got := ops["GET /v1/me/calls:watch"]["produces"]; !slices.Equal(asStrings(got), []string{"text/event-stream"}) {
		t.Errorf("watch produces %v, want Server-Sent Events", got)
	}
}

func asStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, s := range a {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

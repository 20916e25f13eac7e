package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/callverify/callverify/internal/server"
)

// fixOpenAPI rewrites the OpenAPI document protoc-gen-openapiv2 writes so
// that it says what the server serves: who may call each operation (no
// security requirement on anonymous ones), the routes that do not go
// through the gateway as the gateway would describe them (NDJSON import and
// export, the Server-Sent Events of the watch), and the routes beside the
// API (health, metrics, keys, this document, the web pages).
func fixOpenAPI(w io.Writer, in []byte) error {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("read the OpenAPI document: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		return fmt.Errorf("the OpenAPI document has no paths")
	}
	for _, item := range paths {
		for _, op := range item.(map[string]any) {
			op := op.(map[string]any)
			id, _ := op["operationId"].(string)
			svc, method, ok := strings.Cut(id, "_")
			if !ok {
				continue
			}
			roles, anonymous, known := server.MethodAccess("/callverify.v1." + svc + "/" + method)
			switch {
			case !known:
				return fmt.Errorf("%s is not in the server's role table", id)
			case anonymous:
				op["security"] = []any{}
				op["x-callverify-roles"] = []any{}
			default:
				names := make([]any, len(roles))
				for i, r := range roles {
					names[i] = string(r)
				}
				op["x-callverify-roles"] = names
			}
		}
	}
	for path, methods := range streamRoutes {
		item, ok := paths[path].(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not in the generated document", path)
		}
		for method, patch := range methods {
			op, ok := item[method].(map[string]any)
			if !ok {
				return fmt.Errorf("%s %s is not in the generated document", method, path)
			}
			for k, v := range patch {
				op[k] = v
			}
		}
	}
	for path, item := range besideTheAPI {
		if _, dup := paths[path]; dup {
			return fmt.Errorf("%s is both an RPC's route and a route beside the API", path)
		}
		paths[path] = item
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

func obj(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func ref(name string) map[string]any { return obj("$ref", "#/definitions/"+name) }

var errorResponse = obj("description", "An error: the status as JSON.", "schema", ref("rpcStatus"))

// streamRoutes replace what the generator says of the routes the server
// serves with handlers of its own.
var streamRoutes = map[string]map[string]map[string]any{
	"/v1/blocklist:export": {"get": obj(
		"produces", []any{"application/x-ndjson"},
		"description", "Newline-delimited JSON: one bare Entry per line (no {\"result\": ...} wrapper), in pattern order. "+
			"An error after the first line ends the body early; a client checks that the last line is complete.",
		"responses", obj(
			"200", obj("description", "One Entry per line.", "schema", ref("v1Entry")),
			"default", errorResponse,
		),
	)},
	"/v1/blocklist:import": {"post": obj(
		"consumes", []any{"application/x-ndjson"},
		"description", "The body is newline-delimited JSON, one Entry per line (pattern, category, reason, confidence, "+
			"expireTime), read as it arrives and never held whole. Every line is judged alone: a line that cannot be "+
			"read or imported is one rejected row with its line number, and the rest go on. The answer counts what was "+
			"imported, updated and rejected.",
		"parameters", []any{obj("name", "body", "in", "body", "required", true,
			"description", "One Entry per line.", "schema", ref("v1Entry"))},
		"responses", obj(
			"200", obj("description", "What the import did.", "schema", ref("v1ImportEntriesResponse")),
			"default", errorResponse,
		),
	)},
	"/v1/me/calls:watch": {"get": obj(
		"produces", []any{"text/event-stream"},
		"description", "Server-Sent Events. Each event has an id: line (resume after it with the Last-Event-ID header) "+
			"and a data: line holding one CallEvent as JSON; heartbeats keep the stream open. A stream opens with a "+
			"HEARTBEAT, then the customer's live cards (or, resumed, what came after the id).",
		"parameters", []any{
			obj("name", "Last-Event-ID", "in", "header", "type", "string", "required", false,
				"description", "The id of the last event received: the stream resumes after it."),
			obj("name", "language", "in", "query", "type", "string", "required", false,
				"description", "zh-CN (default) or en."),
		},
		"responses", obj(
			"200", obj("description", "A stream of events; data is a CallEvent.", "schema", ref("v1CallEvent")),
			"default", errorResponse,
		),
	)},
}

func plain(description string, produces string, responses map[string]any) map[string]any {
	return obj("get", obj(
		"summary", description, "security", []any{}, "produces", []any{produces}, "tags", []any{"Service"},
		"responses", responses,
	))
}

// besideTheAPI are the routes the server serves beside the RPCs.
var besideTheAPI = map[string]any{
	"/healthz": plain("Liveness: 200 while the process serves HTTP.", "text/plain",
		obj("200", obj("description", "ok"))),
	"/readyz": plain("Readiness: 200 when the store answers and the blocklist index is current; 503 while draining, "+
		"when the store cannot be reached, or while the index lags by more than --index-max-lag.", "text/plain",
		obj("200", obj("description", "ok"), "503", obj("description", "Not ready; the body says why."))),
	"/metrics": plain("Prometheus metrics, in the text exposition format.", "text/plain",
		obj("200", obj("description", "The metrics."))),
	"/.well-known/jwks.json": plain("The public keys that verify call tokens (RFC 7517), the retired ones while "+
		"tokens they signed may still be live.", "application/json",
		obj("200", obj("description", "A JWK Set.", "schema", obj("type", "object")))),
	"/openapi.json": plain("This document.", "application/json",
		obj("200", obj("description", "The OpenAPI document."))),
	"/": plain("Redirects to the console.", "text/html",
		obj("302", obj("description", "To /console/."))),
	"/console/": plain("The web console for analysts, dialers and admins (HTML; it uses this API with the "+
		"bearer token it is given).", "text/html", obj("200", obj("description", "The page and its files."))),
	"/check/": plain("The customer's check page (HTML; phone-sized, Chinese by default).", "text/html",
		obj("200", obj("description", "The page and its files."))),
	"/assets/{file}": obj("get", obj(
		"summary", "Files the pages share (scripts, styles).", "security", []any{}, "tags", []any{"Service"},
		"parameters", []any{obj("name", "file", "in", "path", "type", "string", "required", true)},
		"responses", obj("200", obj("description", "The file."), "404", obj("description", "No such file.")))),
	"/dev/token": obj(
		"get", obj("summary", "Whether development sign-in is on: only a server started with --dev serves this route.",
			"security", []any{}, "tags", []any{"Development"}, "produces", []any{"application/json"},
			"responses", obj("200", obj("description", "Development sign-in is on."),
				"404", obj("description", "The server was not started with --dev."))),
		"post", obj("summary", "Mints a development token of the role asked for: only with --dev.",
			"security", []any{}, "tags", []any{"Development"}, "consumes", []any{"application/json"},
			"produces", []any{"application/json"},
			"parameters", []any{obj("name", "body", "in", "body", "required", true, "schema", obj("type", "object",
				"properties", obj("role", obj("type", "string"), "phone", obj("type", "string"))))},
			"responses", obj("200", obj("description", "The token."),
				"404", obj("description", "The server was not started with --dev."))),
	),
}

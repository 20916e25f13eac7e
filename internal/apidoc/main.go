// Command apidoc writes docs/api.md, the API reference, from the proto
// (a descriptor set with its comments, read on stdin) and the server's role
// table, so that the reference cannot drift from either; with -openapi it
// rewrites the OpenAPI document protoc-gen-openapiv2 wrote (on stdin) so
// that it says what the server serves. make generate runs both:
//
//	go tool -modfile=tools/buf/go.mod buf build proto --as-file-descriptor-set -o - | go run ./internal/apidoc > docs/api.md
//	go run ./internal/apidoc -openapi < generated.json > api/callverify/v1/callverify.swagger.json
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/callverify/callverify/internal/server"
)

const pkg = "callverify.v1"

func main() {
	openapi := flag.Bool("openapi", false, "rewrite the OpenAPI document on stdin instead")
	flag.Parse()
	in, err := io.ReadAll(os.Stdin)
	if err == nil {
		w := bufio.NewWriter(os.Stdout)
		if *openapi {
			err = fixOpenAPI(w, in)
		} else {
			err = write(w, in)
		}
		if err == nil {
			err = w.Flush()
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

func write(w io.Writer, descriptorSet []byte) error {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(descriptorSet, &set); err != nil {
		return fmt.Errorf("read the descriptor set: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return err
	}
	var ours []protoreflect.FileDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if fd.Package() == pkg {
			ours = append(ours, fd)
		}
		return true
	})
	slices.SortFunc(ours, func(a, b protoreflect.FileDescriptor) int { return strings.Compare(a.Path(), b.Path()) })
	d := doc{w: w}
	d.header()
	d.p("## Services\n\n")
	for _, fd := range ours {
		for i := range fd.Services().Len() {
			d.service(fd.Services().Get(i))
		}
	}
	d.p("## Messages\n\n")
	var msgs []protoreflect.MessageDescriptor
	var enums []protoreflect.EnumDescriptor
	for _, fd := range ours {
		for i := range fd.Messages().Len() {
			msgs = append(msgs, fd.Messages().Get(i))
		}
		for i := range fd.Enums().Len() {
			enums = append(enums, fd.Enums().Get(i))
		}
	}
	slices.SortFunc(msgs, func(a, b protoreflect.MessageDescriptor) int {
		return strings.Compare(string(a.Name()), string(b.Name()))
	})
	slices.SortFunc(enums, func(a, b protoreflect.EnumDescriptor) int { return strings.Compare(string(a.Name()), string(b.Name())) })
	for _, m := range msgs {
		d.message(m)
	}
	d.p("## Enums\n\n")
	for _, e := range enums {
		d.enum(e)
	}
	return d.err
}

type doc struct {
	w   io.Writer
	err error
}

func (d *doc) p(format string, args ...any) {
	if d.err == nil {
		_, d.err = fmt.Fprintf(d.w, format, args...)
	}
}

func (d *doc) header() {
	d.p(`# API reference

<!-- Written by internal/apidoc from proto/callverify/v1/*.proto and the server's role table (make generate).
     Do not edit: change the proto's comments or the role table, then run make generate. -->

Every RPC is served over gRPC (port 9090 by default; server reflection is on) and over REST (port 8080) through
grpc-gateway. REST bodies and answers are the messages below in protojson: field names in lowerCamelCase, enums by
name, timestamps in RFC 3339. Callers send a bearer token (` + "`authorization: Bearer ...`" + `) unless the RPC is
anonymous; the token's role decides what it may call. A customer's phone number always comes from their token,
never from a request.

## Errors

Every error is a gRPC status with one clear sentence that is safe to show; REST answers the matching HTTP status
with ` + "`{\"code\": N, \"message\": \"...\"}`" + `. Unknown, foreign and already-ended things all answer NOT_FOUND
alike, so nothing can be probed.

| gRPC code | HTTP | when |
|---|---|---|
| INVALID_ARGUMENT | 400 | the request is wrong; the message names the field and what is wrong |
| UNAUTHENTICATED | 401 | no token, or a token that is not valid (wrong issuer or audience, bad signature): "the bearer token is not valid"; a good token whose exp has passed, or that was issued longer than --auth-max-token-age ago: "the bearer token has expired; get a new one" |
| PERMISSION_DENIED | 403 | the token's role may not call this RPC |
| NOT_FOUND | 404 | no such thing, or not yours to see |
| ALREADY_EXISTS | 409 | a create found it already there |
| ABORTED | 409 | the change lost a race with another; retry |
| FAILED_PRECONDITION | 400 | well formed but refused in the current state (e.g. a blocked or inbound-only caller line) |
| RESOURCE_EXHAUSTED | 429 | a rate or count limit was reached; ` + "`Retry-After`" + ` says when to retry |
| UNAVAILABLE | 503 | the store cannot be reached; never read as "no data", retry |
| DEADLINE_EXCEEDED | 504 | the request took too long |
| INTERNAL | 500 | a fault of the server; the log holds the cause under the request id |

`)
}

func (d *doc) service(sd protoreflect.ServiceDescriptor) {
	d.p("### %s\n\n", sd.Name())
	d.comment(sd)
	d.p("| RPC | route | who may call |\n|---|---|---|\n")
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		d.p("| [%s](#%s) | %s | %s |\n", md.Name(), anchor(string(sd.Name())+"."+string(md.Name())), route(md), who(sd, md))
	}
	d.p("\n")
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		d.p("#### %s.%s\n\n", sd.Name(), md.Name())
		in, out := typeLink(md.Input()), typeLink(md.Output())
		if md.IsStreamingClient() {
			in = "a stream of " + in
		}
		if md.IsStreamingServer() {
			out = "a stream of " + out
		}
		d.p("Takes %s, returns %s. %s; %s.\n\n", in, out, route(md), who(sd, md))
		d.comment(md)
	}
}

func (d *doc) message(m protoreflect.MessageDescriptor) {
	d.p("### %s\n\n", m.Name())
	d.comment(m)
	if m.Fields().Len() == 0 {
		d.p("No fields.\n\n")
		return
	}
	d.p("| field | type | description |\n|---|---|---|\n")
	for i := range m.Fields().Len() {
		f := m.Fields().Get(i)
		d.p("| `%s` | %s | %s |\n", f.JSONName(), fieldType(f), oneLine(comment(f)))
	}
	d.p("\n")
	for i := range m.Messages().Len() {
		d.message(m.Messages().Get(i))
	}
}

func (d *doc) enum(e protoreflect.EnumDescriptor) {
	d.p("### %s\n\n", e.Name())
	d.comment(e)
	d.p("| value | description |\n|---|---|\n")
	for i := range e.Values().Len() {
		v := e.Values().Get(i)
		d.p("| `%s` | %s |\n", v.Name(), oneLine(comment(v)))
	}
	d.p("\n")
}

func (d *doc) comment(desc protoreflect.Descriptor) {
	if c := comment(desc); c != "" {
		d.p("%s\n\n", c)
	}
}

// comment is desc's leading comment in the proto, its lines joined.
func comment(desc protoreflect.Descriptor) string {
	loc := desc.ParentFile().SourceLocations().ByDescriptor(desc)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(loc.LeadingComments), "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	return strings.TrimSpace(strings.Join(lines, " "))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// route is md's REST route, from its google.api.http option.
func route(md protoreflect.MethodDescriptor) string {
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	var method, path string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, path = "GET", p.Get
	case *annotations.HttpRule_Post:
		method, path = "POST", p.Post
	case *annotations.HttpRule_Patch:
		method, path = "PATCH", p.Patch
	case *annotations.HttpRule_Put:
		method, path = "PUT", p.Put
	case *annotations.HttpRule_Delete:
		method, path = "DELETE", p.Delete
	default:
		return "gRPC only"
	}
	return fmt.Sprintf("REST `%s %s`", method, path)
}

// who says who may call md, from the server's role table.
func who(sd protoreflect.ServiceDescriptor, md protoreflect.MethodDescriptor) string {
	roles, anonymous, ok := server.MethodAccess(fmt.Sprintf("/%s/%s", sd.FullName(), md.Name()))
	switch {
	case !ok:
		return "nobody may call it (not in the role table)"
	case anonymous:
		return "anyone may call it, no token (rate-limited)"
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return "role " + strings.Join(names, " or ")
}

func fieldType(f protoreflect.FieldDescriptor) string {
	var t string
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if f.IsMap() {
			return fmt.Sprintf("map<%s, %s>", fieldType(f.MapKey()), fieldType(f.MapValue()))
		}
		t = typeLink(f.Message())
	case protoreflect.EnumKind:
		t = typeLink(f.Enum())
	default:
		t = f.Kind().String()
	}
	if f.IsList() {
		return "repeated " + t
	}
	if f.HasOptionalKeyword() {
		return "optional " + t
	}
	return t
}

// typeLink names a message or enum, linked when it is ours.
func typeLink(desc protoreflect.Descriptor) string {
	if desc.ParentFile().Package() != pkg {
		return string(desc.FullName())
	}
	return fmt.Sprintf("[%s](#%s)", desc.Name(), anchor(string(desc.Name())))
}

// anchor is the id GitHub gives a heading.
func anchor(heading string) string {
	return strings.ToLower(strings.NewReplacer(".", "", " ", "-").Replace(heading))
}

package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// RESTConn is a grpc.ClientConnInterface that sends every unary call as the
// REST request its google.api.http annotation names, so that the same typed
// clients and the same test can drive both faces of the API. The bearer
// token of the context's outgoing metadata becomes the Authorization header;
// an HTTP error body becomes the status it carries.
type RESTConn struct {
	base   string
	client *http.Client
}

var _ grpc.ClientConnInterface = (*RESTConn)(nil)

// REST returns a connection that speaks REST to the service.
func (e *Env) REST() *RESTConn { return &RESTConn{base: e.HTTPURL, client: http.DefaultClient} }

var pathVar = regexp.MustCompile(`\{([^}=]+)\}`)

// Invoke implements grpc.ClientConnInterface.
func (c *RESTConn) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	in, out := args.(proto.Message), reply.(proto.Message)
	md, err := methodDesc(method)
	if err != nil {
		return err
	}
	rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if !ok || rule == nil {
		return status.Errorf(codes.Unimplemented, "%s has no REST route", method)
	}
	var verb, tmpl string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		verb, tmpl = http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		verb, tmpl = http.MethodPost, p.Post
	case *annotations.HttpRule_Patch:
		verb, tmpl = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Delete:
		verb, tmpl = http.MethodDelete, p.Delete
	default:
		return status.Errorf(codes.Unimplemented, "%s: unsupported route", method)
	}
	msg := in.ProtoReflect()
	used := map[string]bool{}
	path := pathVar.ReplaceAllStringFunc(tmpl, func(v string) string {
		name := v[1 : len(v)-1]
		used[strings.Split(name, ".")[0]] = true
		return url.PathEscape(fieldString(msg, name))
	})
	var body io.Reader
	switch rule.GetBody() {
	case "":
		q := url.Values{}
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if !used[string(fd.Name())] && fd.Kind() != protoreflect.MessageKind && !fd.IsList() {
				q.Set(fd.JSONName(), scalarString(fd, v))
			}
			return true
		})
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
	case "*":
		b, err := protojson.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	default:
		fd := msg.Descriptor().Fields().ByName(protoreflect.Name(rule.GetBody()))
		b, err := protojson.Marshal(msg.Get(fd).Message().Interface())
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, verb, c.base+path, body)
	if err != nil {
		return err
	}
	if omd, ok := metadata.FromOutgoingContext(ctx); ok {
		if a := omd.Get("authorization"); len(a) > 0 {
			req.Header.Set("Authorization", a[0])
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) != nil || e.Code == 0 {
			return status.Errorf(codes.Unknown, "HTTP %d: %s", resp.StatusCode, b)
		}
		return status.Error(codes.Code(e.Code), e.Message)
	}
	return protojson.Unmarshal(b, out)
}

// NewStream implements grpc.ClientConnInterface; streams are tested with
// their own NDJSON requests.
func (c *RESTConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "RESTConn does not stream")
}

func methodDesc(full string) (protoreflect.MethodDescriptor, error) {
	i := strings.LastIndexByte(full, '/')
	if i <= 1 {
		return nil, fmt.Errorf("bad method %q", full)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(full[1:i]))
	if err != nil {
		return nil, err
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a service", full[1:i])
	}
	md := sd.Methods().ByName(protoreflect.Name(full[i+1:]))
	if md == nil {
		return nil, fmt.Errorf("no method %s", full)
	}
	return md, nil
}

// fieldString is the value of a (possibly nested, dotted) field as a path segment.
func fieldString(m protoreflect.Message, path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			return ""
		}
		if i == len(parts)-1 {
			return scalarString(fd, m.Get(fd))
		}
		m = m.Get(fd).Message()
	}
	return ""
}

func scalarString(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	if fd.Kind() == protoreflect.EnumKind {
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
	}
	return v.String()
}

package server

import (
	"context"
	"net"
	"net/netip"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// inprocConn lets the REST gateway call the services in-process, with no
// network and no serialisation, through the same interceptor chain as gRPC.
// It is a grpc.ClientConnInterface: unary calls run the generated method
// handler directly; streams go to a real gRPC connection (streaming is not
// supported in-process by the gateway).
type inprocConn struct {
	methods map[string]inprocMethod
	unary   grpc.UnaryServerInterceptor
	streams grpc.ClientConnInterface
}

type inprocMethod struct {
	impl    any
	handler func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error)
}

var _ grpc.ClientConnInterface = (*inprocConn)(nil)

func newInprocConn(unary grpc.UnaryServerInterceptor, streams grpc.ClientConnInterface) *inprocConn {
	return &inprocConn{methods: make(map[string]inprocMethod), unary: unary, streams: streams}
}

func (c *inprocConn) register(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = inprocMethod{impl: impl, handler: m.Handler}
	}
}

// Invoke implements grpc.ClientConnInterface.
func (c *inprocConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	// The gateway put the request's metadata (Authorization) on the
	// outgoing side; the server side reads it as incoming. The peer is the
	// client the HTTP edge decided on (never a header the client wrote).
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: httpClientAddr(ctx)})
	hdr := &headerStream{method: method}
	ctx = grpc.NewContextWithServerTransportStream(ctx, hdr)
	resp, err := m.handler(m.impl, ctx, func(in any) error {
		proto.Merge(in.(proto.Message), args.(proto.Message))
		return nil
	}, c.unary)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = hdr.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = hdr.trailer
		}
	}
	if err != nil {
		return err
	}
	proto.Merge(reply.(proto.Message), resp.(proto.Message))
	return nil
}

// NewStream implements grpc.ClientConnInterface over the real connection.
func (c *inprocConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.streams.NewStream(ctx, desc, method, opts...)
}

// httpClientAddr is the client edge put on the HTTP request's context.
func httpClientAddr(ctx context.Context) net.Addr {
	a, ok := ctx.Value(httpClientKey{}).(netip.Addr)
	if !ok || !a.IsValid() {
		return &net.IPAddr{}
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0))
}

// headerStream collects what handlers send with grpc.SetHeader and friends.
type headerStream struct {
	method          string
	header, trailer metadata.MD
}

func (s *headerStream) Method() string { return s.method }
func (s *headerStream) SetHeader(md metadata.MD) error {
	if s.header == nil { // the usual case: only the request id is set
		s.header = md
		return nil
	}
	s.header = metadata.Join(s.header, md)
	return nil
}
func (s *headerStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }
func (s *headerStream) SetTrailer(md metadata.MD) error {
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

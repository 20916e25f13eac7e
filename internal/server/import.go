package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/ndjson"
)

// Bulk import bodies may be large; they are streamed, never held whole.
const importPath = "/v1/blocklist:import"

const importMethod = "/callverify.v1.BlocklistService/ImportEntries"

// importNDJSON serves ImportEntries over REST: newline-delimited JSON, one
// Entry per line. It cuts the body into lines itself (the gateway's stream
// decoder stops the whole request at the first bad line, after earlier
// batches committed) and sends each line as it is, with its number, to the
// gRPC service over the in-process connection, so the interceptor chain
// applies and the service judges every row exactly as it judges the CLI's:
// a bad line is one rejected row, and the rest are imported.
func (s *Server) importNDJSON(w http.ResponseWriter, r *http.Request) {
	// Check the caller before reading the body, which is not size-limited.
	md := metadata.Pairs("authorization", r.Header.Get("Authorization"))
	if _, err := s.chain.authorize(metadata.NewIncomingContext(r.Context(), md), importMethod); err != nil {
		writeHTTPError(w, status.Convert(err))
		return
	}
	// Not r.Context(): the server cancels it when a read of the body
	// fails, which the drain below makes happen on purpose. A body that
	// breaks off cancels the import explicitly.
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(context.WithoutCancel(r.Context()), metadata.Pairs(
		"authorization", r.Header.Get("Authorization"),
		"x-request-id", r.Header.Get("X-Request-Id"),
	)))
	defer cancel()
	stream, err := callverifyv1.NewBlocklistServiceClient(s.innerCC).ImportEntries(ctx)
	if err != nil {
		writeHTTPError(w, status.Convert(err))
		return
	}
	// At shutdown the service stops taking rows and answers with what it
	// committed; a read of the body blocked on a client still sending is
	// woken for that answer to be sent back.
	drained := make(chan struct{})
	handled, watched := make(chan struct{}), make(chan struct{})
	defer func() { close(handled); <-watched }() // never touch the connection once this request is over
	go func() {
		defer close(watched)
		select {
		case <-s.drainStart:
			close(drained)
			_ = http.NewResponseController(w).SetReadDeadline(time.Now())
		case <-handled:
		}
	}()
	interrupted := false
	lines := ndjson.NewLines(r.Body)
	for {
		n, text, tooLong, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && isClosed(drained) {
			interrupted = true
			break
		}
		if err != nil {
			// The body broke off: what committed stays, with its records;
			// the service drops the rest when the stream is cancelled.
			cancel()
			writeHTTPError(w, status.New(codes.InvalidArgument, "the request body could not be read to its end; rows before the break may have been imported"))
			return
		}
		row := &callverifyv1.ImportRow{Line: n, Json: string(text)}
		if tooLong {
			row = &callverifyv1.ImportRow{Line: n, Error: ndjson.TooLong}
		}
		if err := stream.Send(&callverifyv1.Entry{ImportRow: row}); err != nil {
			// The service ended the stream (refused, or shutting down and
			// answering with what it committed): CloseAndRecv says which.
			break
		}
	}
	resp, err := stream.CloseAndRecv()
	if hdr, herr := stream.Header(); herr == nil {
		if id := hdr.Get("x-request-id"); len(id) == 1 {
			w.Header().Set("X-Request-Id", id[0])
		}
	}
	if err != nil {
		writeHTTPError(w, status.Convert(err))
		return
	}
	// Rows read from the body but not sent before the drain were not
	// taken: the client must know the import is incomplete.
	resp.Interrupted = resp.GetInterrupted() || interrupted
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(resp)
	if err != nil {
		writeHTTPError(w, status.Convert(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

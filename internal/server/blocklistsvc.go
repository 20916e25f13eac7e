package server

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/ndjson"
)

// BlocklistService and VerifyService.ReportCaller: proto <-> blocklist.Service.
// The domain enums share the proto's numbers; values outside a byte are
// mapped to one no enum has, so the domain refuses them.

func enumByte[T ~int32](v T) uint8 {
	if v < 0 || v > 255 {
		return 255
	}
	return uint8(v)
}

func entryFromProto(p *callverifyv1.Entry) blocklist.Entry {
	e := blocklist.Entry{
		Pattern:    p.GetPattern(),
		Category:   blocklist.Category(enumByte(p.GetCategory())),
		Reason:     p.GetReason(),
		Source:     blocklist.Source(enumByte(p.GetSource())),
		Confidence: int(p.GetConfidence()),
	}
	if p.GetExpireTime() != nil {
		e.ExpireTime = p.GetExpireTime().AsTime()
	}
	return e
}

func entryToProto(e blocklist.Entry) *callverifyv1.Entry {
	p := &callverifyv1.Entry{
		EntryId:    e.ID,
		Pattern:    e.Pattern,
		Kind:       callverifyv1.EntryKind(e.Kind),
		Category:   callverifyv1.Category(e.Category),
		Reason:     e.Reason,
		Source:     callverifyv1.Source(e.Source),
		Confidence: int32(e.Confidence),
		CreateBy:   e.CreateBy,
	}
	if !e.CreateTime.IsZero() {
		p.CreateTime = timestamppb.New(e.CreateTime)
	}
	if !e.UpdateTime.IsZero() {
		p.UpdateTime = timestamppb.New(e.UpdateTime)
	}
	if !e.ExpireTime.IsZero() {
		p.ExpireTime = timestamppb.New(e.ExpireTime)
	}
	return p
}

func (b *blocklistServer) CreateEntry(ctx context.Context, req *callverifyv1.CreateEntryRequest) (*callverifyv1.Entry, error) {
	if req.GetEntry() == nil {
		return nil, fault.Invalid("entry", "is required")
	}
	e, err := b.d.Blocklist.CreateEntry(ctx, actor(ctx), entryFromProto(req.GetEntry()))
	if err != nil {
		return nil, err
	}
	return entryToProto(e), nil
}

func (b *blocklistServer) GetEntry(ctx context.Context, req *callverifyv1.GetEntryRequest) (*callverifyv1.Entry, error) {
	e, err := b.d.Blocklist.GetEntry(ctx, req.GetEntryId())
	if err != nil {
		return nil, err
	}
	return entryToProto(e), nil
}

func (b *blocklistServer) UpdateEntry(ctx context.Context, req *callverifyv1.UpdateEntryRequest) (*callverifyv1.Entry, error) {
	if req.GetEntry() == nil {
		return nil, fault.Invalid("entry", "is required")
	}
	e, err := b.d.Blocklist.UpdateEntry(ctx, actor(ctx), req.GetEntry().GetEntryId(),
		entryFromProto(req.GetEntry()), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return entryToProto(e), nil
}

func (b *blocklistServer) DeleteEntry(ctx context.Context, req *callverifyv1.DeleteEntryRequest) (*emptypb.Empty, error) {
	if err := b.d.Blocklist.DeleteEntry(ctx, actor(ctx), req.GetEntryId()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func entryFilter(c callverifyv1.Category, s callverifyv1.Source) blocklist.EntryFilter {
	return blocklist.EntryFilter{Category: blocklist.Category(enumByte(c)), Source: blocklist.Source(enumByte(s))}
}

func (b *blocklistServer) ListEntries(ctx context.Context, req *callverifyv1.ListEntriesRequest) (*callverifyv1.ListEntriesResponse, error) {
	if p := req.GetPatternPrefix(); p != "" {
		list, next, err := b.d.Blocklist.ListEntriesWithPrefix(ctx, entryFilter(req.GetCategory(), req.GetSource()), p,
			int(req.GetPageSize()), req.GetPageToken())
		if err != nil {
			return nil, err
		}
		resp := &callverifyv1.ListEntriesResponse{NextPageToken: next}
		for _, e := range list {
			resp.Entries = append(resp.Entries, entryToProto(e))
		}
		return resp, nil
	}
	list, next, total, err := b.d.Blocklist.ListEntries(ctx, entryFilter(req.GetCategory(), req.GetSource()),
		int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &callverifyv1.ListEntriesResponse{NextPageToken: next, TotalSize: int32(min(total, 1<<31-1))}
	for _, e := range list {
		resp.Entries = append(resp.Entries, entryToProto(e))
	}
	return resp, nil
}

func (b *blocklistServer) CheckNumber(ctx context.Context, req *callverifyv1.CheckNumberRequest) (*callverifyv1.CheckNumberResponse, error) {
	n, e, ok, err := b.d.Blocklist.CheckNumber(ctx, req.GetNumber())
	if err != nil {
		return nil, err
	}
	resp := &callverifyv1.CheckNumberResponse{Blocked: ok, Number: n.String()}
	if ok {
		resp.Entry = entryToProto(e)
	}
	return resp, nil
}

// ImportEntries feeds the stream to an importer row by row; the importer
// commits in batches, so memory stays flat however long the stream. Every
// row counts: one the client could not read (it says why) or that is not
// an entry is rejected with its index and line, and the rest go on. When
// the server starts shutting down it stops taking rows, commits the batch
// it holds and answers with what was committed (interrupted), rather than
// be cut off with nothing said.
func (b *blocklistServer) ImportEntries(stream callverifyv1.BlocklistService_ImportEntriesServer) error {
	ctx := stream.Context()
	im := b.d.Blocklist.NewImporter(actor(ctx))
	rows := make(chan recvRow, 64)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			row, err := stream.Recv()
			select {
			case rows <- recvRow{row, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	interrupted := false
read:
	for {
		var r recvRow
		select {
		case r = <-rows:
		case <-b.draining:
			interrupted = true
			break read
		}
		if errors.Is(r.err, io.EOF) {
			break
		}
		if r.err != nil {
			im.Abandon(ctx, r.err)
			return r.err
		}
		// The row is read (its JSON parsed) with its batch, on the
		// importer's goroutines, not here.
		if err := im.AddRow(ctx, max(r.row.GetImportRow().GetLine(), 0), streamRow{r.row}); err != nil {
			im.Abandon(ctx, err)
			return err
		}
	}
	sum, err := im.Finish(ctx)
	if err != nil {
		return err
	}
	resp := &callverifyv1.ImportEntriesResponse{Imported: sum.Imported, Updated: sum.Updated, Rejected: sum.Rejected, Interrupted: interrupted}
	for _, e := range sum.Errors {
		resp.Errors = append(resp.Errors, &callverifyv1.ImportError{Index: e.Index, Line: e.Line, Message: e.Message})
	}
	return stream.SendAndClose(resp)
}

type recvRow struct {
	row *callverifyv1.Entry
	err error
}

// streamRow is a row of the ImportEntries stream, read by the importer.
type streamRow struct{ p *callverifyv1.Entry }

func (r streamRow) Decode() (blocklist.Entry, string) {
	_, e, bad := importRow(r.p)
	return e, bad
}

// importRowJSON reads a row sent as text. Unknown fields are refused: a
// misspelt expireTime would otherwise block a number for ever.
var importRowJSON = protojson.UnmarshalOptions{}

// importRow turns one streamed row into an entry and its file line, or
// says why it is not one.
func importRow(p *callverifyv1.Entry) (line int64, e blocklist.Entry, bad string) {
	src := p.GetImportRow()
	line = max(src.GetLine(), 0)
	switch {
	case src.GetError() != "":
		return line, e, src.GetError()
	case src.GetJson() != "":
		// p is this row's own message: its other fields are measured
		// without the import row rather than on a copy.
		p.ImportRow = nil
		other := proto.Size(p)
		p.ImportRow = src
		if other != 0 {
			return line, e, "a row sent as JSON text carries no other fields"
		}
		if len(src.GetJson()) > ndjson.MaxLine {
			return line, e, ndjson.TooLong
		}
		parsed := &callverifyv1.Entry{}
		if err := importRowJSON.Unmarshal([]byte(src.GetJson()), parsed); err != nil {
			return line, e, "not an entry: " + protoErrText(err)
		}
		if parsed.GetImportRow() != nil {
			return line, e, "not an entry: importRow is not an entry field"
		}
		p = parsed
	}
	return line, entryFromProto(p), ""
}

// protoErrText is a protojson error without its "proto:" prefix (which the
// library spells with a random space so that nobody matches on it).
func protoErrText(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "proto:"); ok {
		msg = strings.TrimLeft(rest, " \u00a0")
	}
	return msg
}

func (b *blocklistServer) ExportEntries(req *callverifyv1.ExportEntriesRequest, stream callverifyv1.BlocklistService_ExportEntriesServer) error {
	return b.d.Blocklist.ExportEntries(stream.Context(), entryFilter(req.GetCategory(), req.GetSource()),
		func(e blocklist.Entry) error { return stream.Send(entryToProto(e)) })
}

func reportedToProto(g blocklist.ReportedNumber) *callverifyv1.ReportedNumber {
	return &callverifyv1.ReportedNumber{
		CallerNumber:      g.CallerNumber.String(),
		ReportCount:       int32(min(g.ReportCount, 1<<31-1)),
		DistinctReporters: int32(min(g.DistinctReporters, 1<<31-1)),
		FirstReportTime:   timestamppb.New(g.FirstReportTime),
		LastReportTime:    timestamppb.New(g.LastReportTime),
		Status:            callverifyv1.ReportStatus(g.Status),
		Notes:             g.Notes,
	}
}

func (b *blocklistServer) ListReportedNumbers(ctx context.Context, req *callverifyv1.ListReportedNumbersRequest) (*callverifyv1.ListReportedNumbersResponse, error) {
	list, next, err := b.d.Blocklist.ListReportedNumbers(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &callverifyv1.ListReportedNumbersResponse{NextPageToken: next}
	for _, g := range list {
		resp.ReportedNumbers = append(resp.ReportedNumbers, reportedToProto(g))
	}
	return resp, nil
}

func (b *blocklistServer) ResolveReportedNumber(ctx context.Context, req *callverifyv1.ResolveReportedNumberRequest) (*callverifyv1.ResolveReportedNumberResponse, error) {
	g, e, err := b.d.Blocklist.ResolveReportedNumber(ctx, actor(ctx), req.GetCallerNumber(),
		blocklist.ResolveAction(enumByte(req.GetAction())), blocklist.Category(enumByte(req.GetCategory())), req.GetReason())
	if err != nil {
		return nil, err
	}
	resp := &callverifyv1.ResolveReportedNumberResponse{ReportedNumber: reportedToProto(g)}
	if e.ID != "" {
		resp.Entry = entryToProto(e)
	}
	return resp, nil
}

func (b *blocklistServer) ListAuditEvents(ctx context.Context, req *callverifyv1.ListAuditEventsRequest) (*callverifyv1.ListAuditEventsResponse, error) {
	events, next, err := b.d.Blocklist.ListAuditEvents(ctx, audit.Filter{Actor: req.GetActor(), Action: req.GetAction()},
		int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &callverifyv1.ListAuditEventsResponse{NextPageToken: next}
	for _, ev := range events {
		p := &callverifyv1.AuditEvent{
			EventId: ev.ID, Time: timestamppb.New(ev.Time), Actor: ev.Actor, Role: ev.Role,
			Action: ev.Action, Target: ev.Target,
		}
		if p.Before, err = snapshotToStruct(ev.Before); err != nil {
			return nil, err
		}
		if p.After, err = snapshotToStruct(ev.After); err != nil {
			return nil, err
		}
		resp.Events = append(resp.Events, p)
	}
	return resp, nil
}

func snapshotToStruct(m map[string]any) (*structpb.Struct, error) {
	if m == nil {
		return nil, nil
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, errors.New("audit event snapshot does not convert to a Struct: " + err.Error())
	}
	return s, nil
}

// ReportCaller is VerifyService's, but reports are the blocklist's: the
// reporter is the customer's own number from the token, never the request.
func (v *verifyServer) ReportCaller(ctx context.Context, req *callverifyv1.ReportCallerRequest) (*callverifyv1.Report, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.PhoneNumber == "" {
		return nil, fault.New(fault.ErrPermissionDenied, "your token carries no phone_number, so you cannot report callers")
	}
	var occur time.Time
	if req.GetOccurTime() != nil {
		occur = req.GetOccurTime().AsTime()
	}
	r, err := v.d.Blocklist.ReportCaller(ctx, p.PhoneNumber, req.GetCallerNumber(), req.GetNote(), occur)
	if err != nil {
		return nil, err
	}
	return &callverifyv1.Report{
		ReportId:     r.ID,
		CallerNumber: r.CallerNumber.String(),
		Note:         r.Note,
		OccurTime:    timestamppb.New(r.OccurTime),
		CreateTime:   timestamppb.New(r.CreateTime),
	}, nil
}

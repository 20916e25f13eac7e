package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/fault"
)

// actor is the authenticated caller as the audit log names it.
func actor(ctx context.Context) audit.Actor {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return audit.Actor{Subject: "anonymous", Role: "anonymous"}
	}
	return audit.Actor{Subject: p.Subject, Role: string(p.Role)}
}

func (a *adminServer) CreateOfficialNumber(ctx context.Context, req *callverifyv1.CreateOfficialNumberRequest) (*callverifyv1.OfficialNumber, error) {
	in := req.GetOfficialNumber()
	if in == nil {
		return nil, fault.Invalid("official_number", "is required")
	}
	o, err := a.d.Blocklist.CreateOfficialNumber(ctx, actor(ctx), in.GetNumber(), blocklist.OfficialNumber{
		DisplayName: in.GetDisplayName(),
		Direction:   blocklist.Direction(in.GetDirection()),
		Description: in.GetDescription(),
	})
	if err != nil {
		return nil, err
	}
	return officialToProto(o), nil
}

func (a *adminServer) ListOfficialNumbers(ctx context.Context, req *callverifyv1.ListOfficialNumbersRequest) (*callverifyv1.ListOfficialNumbersResponse, error) {
	list, next, err := a.d.Blocklist.ListOfficialNumbers(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &callverifyv1.ListOfficialNumbersResponse{NextPageToken: next}
	for _, o := range list {
		resp.OfficialNumbers = append(resp.OfficialNumbers, officialToProto(o))
	}
	return resp, nil
}

func (a *adminServer) DeleteOfficialNumber(ctx context.Context, req *callverifyv1.DeleteOfficialNumberRequest) (*emptypb.Empty, error) {
	// The number's live calls end with it (the audit event counts them).
	if _, err := a.d.Blocklist.DeleteOfficialNumber(ctx, actor(ctx), req.GetNumber()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func officialToProto(o blocklist.OfficialNumber) *callverifyv1.OfficialNumber {
	return &callverifyv1.OfficialNumber{
		Number:      o.Number.String(),
		DisplayName: o.DisplayName,
		Direction:   callverifyv1.Direction(o.Direction),
		Description: o.Description,
		CreateBy:    o.CreateBy,
		CreateTime:  timestamppb.New(o.CreateTime),
	}
}

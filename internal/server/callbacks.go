package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/callback"
)

// The callback RPCs: the customer's (VerifyService) and the dialers'
// (CallbackService), proto <-> callback.Service. The customer is the
// phone_number of their own token, never a number from the request.

// callbacks is the domain, or UNIMPLEMENTED on a server built without it.
func callbacks(d *Deps) (*callback.Service, error) {
	if d.Callbacks == nil {
		return nil, status.Error(codes.Unimplemented, "callbacks are not enabled on this server")
	}
	return d.Callbacks, nil
}

func (v *verifyServer) RequestCallback(ctx context.Context, req *callverifyv1.RequestCallbackRequest) (*callverifyv1.CallbackRequest, error) {
	svc, err := callbacks(v.d)
	if err != nil {
		return nil, err
	}
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	in := callback.NewRequest{Reason: int(req.GetReason()), OrderRef: req.GetOrderRef(), Language: req.GetLanguage()}
	if w := req.GetPreferredWindow(); w != nil {
		if w.GetStartTime() != nil {
			in.Window.Start = w.GetStartTime().AsTime()
		}
		if w.GetEndTime() != nil {
			in.Window.End = w.GetEndTime().AsTime()
		}
	}
	r, err := svc.Request(ctx, actor(ctx), me, in)
	if err != nil {
		return nil, err
	}
	return callbackToProto(r.Request, r.Position), nil
}

func (v *verifyServer) ListMyCallbacks(ctx context.Context, _ *callverifyv1.ListMyCallbacksRequest) (*callverifyv1.ListMyCallbacksResponse, error) {
	svc, err := callbacks(v.d)
	if err != nil {
		return nil, err
	}
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := svc.ListMine(ctx, me)
	if err != nil {
		return nil, err
	}
	out := &callverifyv1.ListMyCallbacksResponse{Callbacks: make([]*callverifyv1.CallbackRequest, 0, len(rs))}
	for _, r := range rs {
		out.Callbacks = append(out.Callbacks, callbackToProto(r.Request, r.Position))
	}
	return out, nil
}

func (v *verifyServer) CancelCallback(ctx context.Context, req *callverifyv1.CancelCallbackRequest) (*callverifyv1.CallbackRequest, error) {
	svc, err := callbacks(v.d)
	if err != nil {
		return nil, err
	}
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	r, err := svc.Cancel(ctx, actor(ctx), me, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	return callbackToProto(r, 0), nil
}

func (c *callbackServer) ListCallbacks(ctx context.Context, req *callverifyv1.ListCallbacksRequest) (*callverifyv1.ListCallbacksResponse, error) {
	svc, err := callbacks(c.d)
	if err != nil {
		return nil, err
	}
	rs, next, err := svc.ListOpen(ctx, int(req.GetReason()), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &callverifyv1.ListCallbacksResponse{Callbacks: make([]*callverifyv1.CallbackRequest, 0, len(rs)), NextPageToken: next}
	for _, r := range rs {
		p := callbackToProto(r, 0)
		p.CalleeNumber = r.Customer.Masked() // the full number goes to the claimer only
		p.CustomerId = ""
		out.Callbacks = append(out.Callbacks, p)
	}
	return out, nil
}

func (c *callbackServer) ClaimCallback(ctx context.Context, req *callverifyv1.ClaimCallbackRequest) (*callverifyv1.CallbackRequest, error) {
	svc, err := callbacks(c.d)
	if err != nil {
		return nil, err
	}
	r, err := svc.Claim(ctx, actor(ctx), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	return callbackToProto(r, 0), nil
}

// callbackToProto shows a request in full: to its customer, or to the
// dialer who claimed it. position is its place in the queue (0: none).
func callbackToProto(r callback.Request, position int) *callverifyv1.CallbackRequest {
	p := &callverifyv1.CallbackRequest{
		RequestId:     r.ID,
		CalleeNumber:  r.Customer.String(),
		CustomerId:    r.CustomerID,
		Reason:        callverifyv1.CallReason(r.Reason),
		OrderRef:      r.OrderRef,
		Language:      r.Language,
		State:         callverifyv1.CallbackState(r.State),
		CreateTime:    timestamppb.New(r.CreateTime),
		ExpireTime:    timestamppb.New(r.ExpireTime),
		ClaimedBy:     r.ClaimedBy,
		ClaimTime:     optTime(r.ClaimTime),
		CallId:        r.CallID,
		QueuePosition: int32(position),
	}
	if !r.Window.Start.IsZero() {
		p.PreferredWindow = &callverifyv1.TimeWindow{StartTime: timestamppb.New(r.Window.Start), EndTime: timestamppb.New(r.Window.End)}
	}
	return p
}

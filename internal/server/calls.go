package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/verify"
)

// CallService: proto <-> verify.Service, nothing else.

func (c *callServer) StampCall(ctx context.Context, req *callverifyv1.StampCallRequest) (*callverifyv1.StampCallResponse, error) {
	st, err := c.d.Verify.StampCall(ctx, actor(ctx), verify.StampRequest{
		CallerNumber: req.GetCallerNumber(),
		CalleeNumber: req.GetCalleeNumber(),
		CustomerID:   req.GetCustomerId(),
		Reason:       verify.Reason(req.GetReason()),
		ReasonText:   req.GetReasonText(),
		OrderRef:     req.GetOrderRef(),
		AgentID:      req.GetAgentId(),
		AgentName:    req.GetAgentName(),
		TTLSeconds:   int(req.GetTtlSeconds()),

		CallbackRequestID: req.GetCallbackRequestId(),
	})
	if err != nil {
		return nil, err
	}
	return &callverifyv1.StampCallResponse{
		Call:             callToProto(st.Call),
		Token:            st.Token,
		ConfirmationCode: st.Code,
		CodeExpiresAt:    timestamppb.New(st.CodeExpiresAt),
	}, nil
}

func (c *callServer) GetCall(ctx context.Context, req *callverifyv1.GetCallRequest) (*callverifyv1.Call, error) {
	call, err := c.d.Verify.GetCall(ctx, actor(ctx), req.GetCallId())
	if err != nil {
		return nil, err
	}
	return callToProto(call), nil
}

func (c *callServer) EndCall(ctx context.Context, req *callverifyv1.EndCallRequest) (*callverifyv1.Call, error) {
	call, err := c.d.Verify.EndCall(ctx, actor(ctx), req.GetCallId())
	if err != nil {
		return nil, err
	}
	return callToProto(call), nil
}

func (c *callServer) GetConfirmationCode(ctx context.Context, req *callverifyv1.GetConfirmationCodeRequest) (*callverifyv1.GetConfirmationCodeResponse, error) {
	code, until, err := c.d.Verify.GetConfirmationCode(ctx, actor(ctx), req.GetCallId())
	if err != nil {
		return nil, err
	}
	return &callverifyv1.GetConfirmationCodeResponse{ConfirmationCode: code, CodeExpiresAt: timestamppb.New(until)}, nil
}

func (c *callServer) ListCalls(ctx context.Context, req *callverifyv1.ListCallsRequest) (*callverifyv1.ListCallsResponse, error) {
	calls, next, err := c.d.Verify.ListCalls(ctx, req.GetCallerNumber(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &callverifyv1.ListCallsResponse{NextPageToken: next}
	for _, call := range calls {
		resp.Calls = append(resp.Calls, callToProto(call))
	}
	return resp, nil
}

func (c *callServer) EndCalls(ctx context.Context, req *callverifyv1.EndCallsRequest) (*callverifyv1.EndCallsResponse, error) {
	n, err := c.d.Verify.EndCalls(ctx, actor(ctx), req.GetCallerNumber())
	if err != nil {
		return nil, err
	}
	return &callverifyv1.EndCallsResponse{EndedCount: int32(n)}, nil
}

// callToProto shows a call; its secrets never leave. The domain's Reason
// and State values are the proto's.
func callToProto(c verify.Call) *callverifyv1.Call {
	return &callverifyv1.Call{
		CallId:       c.ID,
		CallerNumber: c.Caller.String(),
		CalleeNumber: c.Callee.String(),
		CustomerId:   c.CustomerID,
		Reason:       callverifyv1.CallReason(c.Reason),
		ReasonText:   c.ReasonText,
		OrderRef:     c.OrderRef,
		AgentId:      c.AgentID,
		AgentName:    c.AgentName,
		State:        callverifyv1.CallState(c.State),
		CreateTime:   timestamppb.New(c.CreateTime),
		ExpireTime:   timestamppb.New(c.ExpireTime),
		EndTime:      optTime(c.EndTime),

		CallbackRequestId: c.CallbackRequestID,
	}
}

// optTime leaves an unset time out of the message.
func optTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

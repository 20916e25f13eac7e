package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// VerifyService (but ReportCaller, which is the blocklist's): proto <->
// verify.Service. A customer is always the phone_number of their own
// token, never a number from the request.

// tokenNumberMemoSize bounds the customers' numbers remembered by a
// server: about the customers active at once (each entry is two short
// strings, a few dozen bytes).
const tokenNumberMemoSize = 4096

// customerNumber is the caller's own number from their token.
func (v *verifyServer) customerNumber(ctx context.Context) (phone.Number, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.PhoneNumber == "" {
		return "", fault.New(fault.ErrPermissionDenied, "your token carries no phone_number, so there are no calls of yours to check")
	}
	n, err := v.tokenNumbers.Parse(p.PhoneNumber)
	if err != nil {
		return "", fault.New(fault.ErrPermissionDenied, "the phone_number of your token is not a valid phone number")
	}
	return n, nil
}

func (v *verifyServer) CheckCaller(ctx context.Context, req *callverifyv1.CheckCallerRequest) (*callverifyv1.CheckCallerResponse, error) {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	res, err := v.d.Verify.CheckCaller(ctx, me, req.GetCallerNumber(), req.GetLanguage())
	if err != nil {
		return nil, err
	}
	v.outcomes.verdict("CheckCaller", callverifyv1.Verdict(res.Verdict))
	out := &callverifyv1.CheckCallerResponse{
		Verdict:           callverifyv1.Verdict(res.Verdict),
		CallerNumber:      res.Caller.String(),
		BlocklistCategory: categoryToProto(res.BlocklistCategory),
		Message:           res.Message,
		Advice:            res.Advice,
	}
	if res.Verdict == verify.VerdictVerified && res.Call != nil {
		out.Call = callToProto(*res.Call)
		out.ConfirmationCode = res.Code
		out.CodeExpiresAt = timestamppb.New(res.CodeExpiresAt)
		if res.Callback != nil {
			out.Callback = callbackToProto(*res.Callback, 0)
		}
	}
	return out, nil
}

func (v *verifyServer) LookupNumber(ctx context.Context, req *callverifyv1.LookupNumberRequest) (*callverifyv1.LookupNumberResponse, error) {
	res, err := v.d.Verify.LookupNumber(ctx, req.GetNumber(), req.GetLanguage())
	if err != nil {
		return nil, err
	}
	v.outcomes.verdict("LookupNumber", callverifyv1.Verdict(res.Verdict))
	return &callverifyv1.LookupNumberResponse{
		Verdict:           callverifyv1.Verdict(res.Verdict),
		Number:            res.Number.String(),
		BlocklistCategory: categoryToProto(res.BlocklistCategory),
		Message:           res.Message,
		Advice:            res.Advice,
	}, nil
}

func (v *verifyServer) ListMyCalls(ctx context.Context, req *callverifyv1.ListMyCallsRequest) (*callverifyv1.ListMyCallsResponse, error) {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	calls, err := v.d.Verify.ListMyCalls(ctx, me, req.GetLanguage())
	if err != nil {
		return nil, err
	}
	out := &callverifyv1.ListMyCallsResponse{Calls: make([]*callverifyv1.MyCall, 0, len(calls))}
	for _, c := range calls {
		out.Calls = append(out.Calls, myCallToProto(c))
	}
	return out, nil
}

// myCallToProto is the API's form of a call card: the one ListMyCalls and
// WatchMyCalls send. A card without a code (a watch's take-down) has no
// code_expires_at either.
func myCallToProto(c verify.MyCall) *callverifyv1.MyCall {
	out := &callverifyv1.MyCall{Call: callToProto(c.Call), ConfirmationCode: c.Code, Message: c.Message}
	if c.Code != "" {
		out.CodeExpiresAt = timestamppb.New(c.CodeExpiresAt)
	}
	if c.Callback != nil {
		out.Callback = callbackToProto(*c.Callback, 0)
	}
	return out
}

func (v *verifyServer) ConfirmCode(ctx context.Context, req *callverifyv1.ConfirmCodeRequest) (*callverifyv1.ConfirmCodeResponse, error) {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	res, err := v.d.Verify.ConfirmCode(ctx, actor(ctx), me, req.GetCallId(), req.GetCode())
	if err != nil {
		return nil, err
	}
	out := &callverifyv1.ConfirmCodeResponse{Match: res.Match, AttemptsRemaining: int32(res.AttemptsRemaining)}
	v.outcomes.codeAttempt(out.Match, out.AttemptsRemaining)
	if res.Match && res.Call != nil {
		out.Call = callToProto(*res.Call)
	}
	return out, nil
}

func (v *verifyServer) VerifyToken(ctx context.Context, req *callverifyv1.VerifyTokenRequest) (*callverifyv1.VerifyTokenResponse, error) {
	res, err := v.d.Verify.VerifyToken(ctx, verify.VerifyTokenRequest{
		Token:        req.GetToken(),
		CallerNumber: req.GetCallerNumber(),
		CalleeNumber: req.GetCalleeNumber(),
	})
	if err != nil {
		return nil, err
	}
	out := &callverifyv1.VerifyTokenResponse{
		Valid:     res.Valid,
		Failure:   callverifyv1.TokenFailure(res.Failure),
		CallId:    res.CallID,
		CallState: callverifyv1.CallState(res.CallState),
	}
	v.outcomes.callToken(out.Failure)
	if res.Claims != nil {
		if out.Claims, err = structpb.NewStruct(res.Claims); err != nil {
			return nil, fmt.Errorf("token claims to struct: %w", err)
		}
	}
	return out, nil
}

func (v *verifyServer) EnrollDevice(ctx context.Context, req *callverifyv1.EnrollDeviceRequest) (*callverifyv1.EnrollDeviceResponse, error) {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	en, err := v.d.Verify.EnrollDevice(ctx, actor(ctx), me, req.GetLabel())
	if err != nil {
		return nil, err
	}
	return &callverifyv1.EnrollDeviceResponse{DeviceId: en.DeviceID, OtpauthUri: en.OTPAuthURI, QrPng: en.QRPNG}, nil
}

func (v *verifyServer) ListDevices(ctx context.Context, _ *callverifyv1.ListDevicesRequest) (*callverifyv1.ListDevicesResponse, error) {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := v.d.Verify.ListDevices(ctx, me)
	if err != nil {
		return nil, err
	}
	out := &callverifyv1.ListDevicesResponse{Devices: make([]*callverifyv1.Device, 0, len(ds))}
	for _, d := range ds {
		out.Devices = append(out.Devices, &callverifyv1.Device{DeviceId: d.ID, Label: d.Label, CreateTime: timestamppb.New(d.CreateTime)})
	}
	return out, nil
}

func (v *verifyServer) DeleteDevice(ctx context.Context, req *callverifyv1.DeleteDeviceRequest) (*emptypb.Empty, error) {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	if err := v.d.Verify.DeleteDevice(ctx, actor(ctx), me, req.GetDeviceId()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (v *verifyServer) UpdatePreferences(ctx context.Context, req *callverifyv1.UpdatePreferencesRequest) (*callverifyv1.Preferences, error) {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return nil, err
	}
	p, err := v.d.Verify.UpdatePreferences(ctx, actor(ctx), me, req.MarketingCallsAllowed)
	if err != nil {
		return nil, err
	}
	return &callverifyv1.Preferences{MarketingCallsAllowed: p.MarketingCallsAllowed}, nil
}

// categoryToProto maps the directory's category name ("CATEGORY_SCAM") to
// the enum; "" (not blocked) is UNSPECIFIED.
func categoryToProto(name string) callverifyv1.Category {
	return callverifyv1.Category(callverifyv1.Category_value[name])
}

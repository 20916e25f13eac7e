package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/callverify/callverify/internal/fault"
)

// toStatus maps any error a handler returns to the status the client sees:
// the fault kind picks the code, the fault's message is the only text shown.
// Anything else is INTERNAL with a fixed message; the cause is for the log.
func toStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if s, ok := status.FromError(err); ok {
		return s
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "the request took too long")
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "the request was cancelled")
	}
	code := codes.Internal
	for _, k := range kindCodes {
		if errors.Is(err, k.kind) {
			code = k.code
			break
		}
	}
	msg, ok := fault.Message(err)
	if !ok {
		msg = defaultMessages[code]
	}
	return status.New(code, msg)
}

var kindCodes = []struct {
	kind error
	code codes.Code
}{
	// Unavailable first: a store failure must never read as anything else.
	{fault.ErrUnavailable, codes.Unavailable},
	{fault.ErrInvalidArgument, codes.InvalidArgument},
	{fault.ErrNotFound, codes.NotFound},
	{fault.ErrAlreadyExists, codes.AlreadyExists},
	{fault.ErrFailedPrecondition, codes.FailedPrecondition},
	{fault.ErrPermissionDenied, codes.PermissionDenied},
	{fault.ErrResourceExhausted, codes.ResourceExhausted},
	{fault.ErrConflict, codes.Aborted},
}

var defaultMessages = map[codes.Code]string{
	codes.Internal:           "internal error",
	codes.Unavailable:        "the service is temporarily unavailable, please retry",
	codes.InvalidArgument:    "the request is not valid",
	codes.NotFound:           "not found",
	codes.AlreadyExists:      "already exists",
	codes.FailedPrecondition: "the request cannot be done in the current state",
	codes.PermissionDenied:   "permission denied",
	codes.ResourceExhausted:  "too many requests, please retry later",
	codes.Aborted:            "the request conflicted with another change, please retry",
}

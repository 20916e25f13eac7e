// Package fault holds the error kinds that domain packages and stores return
// and that the transport maps to status codes in one place.
//
// A fault carries a message that is safe to show the client (a fixed, clear
// sentence) apart from its cause, which only goes to the server log. Nothing
// here may put a raw phone number, token or code into a client message.
package fault

import (
	"errors"
	"fmt"
)

// Sentinel kinds. Stores wrap them; callers test with errors.Is.
var (
	// ErrNotFound: the thing does not exist (or the caller may not know it does).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create found the thing already there.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a compare-and-swap lost, or a write conflicts with other state.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the store cannot be reached. Never to be read as "no data".
	ErrUnavailable = errors.New("unavailable")
	// ErrInvalidArgument: the request is wrong; the message says what.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the request is well formed but refused in the current state.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrPermissionDenied: the caller may not do this.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrResourceExhausted: a limit was reached.
	ErrResourceExhausted = errors.New("resource exhausted")
)

// Error is a fault of one kind with a client-safe message and an optional
// cause for the log.
type Error struct {
	Kind  error  // one of the sentinels above
	Msg   string // shown to the client
	Cause error  // logged, never shown
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

// Is makes errors.Is(err, ErrNotFound) hold for a fault of that kind.
func (e *Error) Is(target error) bool { return e.Kind == target }

func (e *Error) Unwrap() error { return e.Cause }

// New returns a fault of kind with a client message.
func New(kind error, msg string) error { return &Error{Kind: kind, Msg: msg} }

// Wrap returns a fault of kind with a client message and a logged cause.
func Wrap(kind error, msg string, cause error) error {
	return &Error{Kind: kind, Msg: msg, Cause: cause}
}

// Invalid says that a request field is wrong and why, e.g.
// Invalid("caller_number", "is not a valid phone number").
func Invalid(field, why string) error {
	return &Error{Kind: ErrInvalidArgument, Msg: field + " " + why}
}

// Invalidf is Invalid with formatting of the reason.
func Invalidf(field, format string, args ...any) error {
	return Invalid(field, fmt.Sprintf(format, args...))
}

// Precondition refuses a request in the current state.
func Precondition(msg string) error { return &Error{Kind: ErrFailedPrecondition, Msg: msg} }

// NotFound says the named thing does not exist.
func NotFound(msg string) error { return &Error{Kind: ErrNotFound, Msg: msg} }

// Unavailable wraps a store failure.
func Unavailable(cause error) error {
	return &Error{Kind: ErrUnavailable, Msg: "the service is temporarily unavailable, please retry", Cause: cause}
}

// Message returns the client-safe message of err, and false when err carries
// none (an unexpected error whose text must not reach the client).
func Message(err error) (string, bool) {
	var f *Error
	if errors.As(err, &f) && f.Msg != "" {
		return f.Msg, true
	}
	return "", false
}

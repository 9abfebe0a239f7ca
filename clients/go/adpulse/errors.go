package adpulse

import (
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FieldViolation names one bad field of a request: a row and column of an ingest batch, or a
// request field.
type FieldViolation struct {
	Field       string
	Description string
	Reason      string
}

// Error is a failed call with the server's AIP-193 details unpacked.
type Error struct {
	Code    codes.Code
	Message string
	// Reason and Metadata come from the status's ErrorInfo.
	Reason          string
	Metadata        map[string]string
	FieldViolations []FieldViolation
	// RetryDelay is set when the server said the call may be retried after it (RetryInfo).
	RetryDelay time.Duration
	Retryable  bool
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Message }

// AsError unpacks err into an *Error; false when err carries no gRPC status.
func AsError(err error) (*Error, bool) {
	var typed *Error
	if errors.As(err, &typed) {
		return typed, true
	}
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return nil, false
	}
	return fromStatus(st), true
}

func fromStatus(st *status.Status) *Error {
	out := &Error{Code: st.Code(), Message: st.Message()}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			out.Reason, out.Metadata = d.GetReason(), d.GetMetadata()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				out.FieldViolations = append(out.FieldViolations, FieldViolation{v.GetField(), v.GetDescription(), v.GetReason()})
			}
		case *errdetails.RetryInfo:
			out.Retryable, out.RetryDelay = true, d.GetRetryDelay().AsDuration()
		}
	}
	return out
}

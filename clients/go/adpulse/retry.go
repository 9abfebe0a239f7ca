package adpulse

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxRetryDelay caps the wait a server may ask for, so a bad RetryInfo cannot stall a caller.
const maxRetryDelay = 30 * time.Second

// retryUnavailable retries a unary call that failed UNAVAILABLE with RetryInfo, after the delay
// the server named. Without RetryInfo an UNAVAILABLE may have been applied already (the server
// says so by leaving RetryInfo out), so it is returned, as is every other code.
func retryUnavailable(attempts int) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		for try := 0; ; try++ {
			err := invoker(ctx, method, req, reply, cc, opts...)
			st, _ := status.FromError(err)
			if err == nil || try >= attempts || st.Code() != codes.Unavailable {
				return err
			}
			typed := fromStatus(st)
			if !typed.Retryable {
				return err
			}
			timer := time.NewTimer(min(typed.RetryDelay, maxRetryDelay))
			select {
			case <-ctx.Done():
				timer.Stop()
				return err
			case <-timer.C:
			}
		}
	}
}

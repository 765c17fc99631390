package fetch

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxRetryAfter caps a Retry-After when the run has no deadline (a library
// caller with Options.Deadline 0): a date a year ahead must not park a run.
const maxRetryAfter = 5 * time.Minute

// retryWait is how long to wait before retry number attempt (1, 2, …)
// after ferr. The wait is go-retryablehttp's: Retry-After (seconds or an
// HTTP date) on a 429 or 503, else linear backoff with jitter, attempt ×
// [MinBackoff/2, MinBackoff], capped by MaxBackoff. Every wait is capped by
// what is left of ctx's deadline: ok is false when the wait would pass it
// (the caller gives up on the mirror instead of sleeping into the
// deadline).
func (s *session) retryWait(ctx context.Context, attempt int, ferr *fetchError) (wait time.Duration, ok bool) {
	var resp *http.Response
	if ferr != nil {
		resp = ferr.resp
	}
	wait = retryablehttp.RateLimitLinearJitterBackoff(s.minBackoff/2, s.minBackoff, attempt-1, resp)
	if resp != nil && resp.Header.Get("Retry-After") != "" {
		wait = min(wait, maxRetryAfter)
	} else {
		wait = min(wait, s.maxBackoff)
	}
	wait = max(wait, 0)
	if dl, has := ctx.Deadline(); has && time.Now().Add(wait).After(dl) {
		return wait, false
	}
	return wait, true
}

// sleep waits d or until ctx is done; it returns ctx's error if that came first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

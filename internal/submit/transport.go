package submit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Clock tells the time and waits. Tests pass a fake one so that rate-limit
// and backoff waits take no real time while the code path stays real.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RetryPolicy bounds retries of GitHub requests.
type RetryPolicy struct {
	// ServerErrorAttempts is how many times a request answered 5xx is
	// sent in all (default 4), waiting FirstBackoff, then twice as long...
	ServerErrorAttempts int
	FirstBackoff        time.Duration
	// MaxWait is the longest single rate-limit wait; a longer one is an
	// error saying when to come back (default 15m).
	MaxWait time.Duration
	// RateLimitAttempts is how many rate-limit waits one request may do
	// (default 5).
	RateLimitAttempts int
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.ServerErrorAttempts <= 0 {
		p.ServerErrorAttempts = 4
	}
	if p.FirstBackoff <= 0 {
		p.FirstBackoff = time.Second
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 15 * time.Minute
	}
	if p.RateLimitAttempts <= 0 {
		p.RateLimitAttempts = 5
	}
	return p
}

// retryTransport retries GitHub requests below go-github: answers 5xx
// with exponential backoff, and primary (X-RateLimit-Remaining: 0, wait
// until X-RateLimit-Reset) and secondary (Retry-After) rate limits, 403 or
// 429, by waiting. Because it sits below go-github, go-github never records
// an exhausted limit and never refuses a request on its own. It does not
// retry a broken connection: the flow is resumable, so the next run
// finishes the job.
type retryTransport struct {
	base   http.RoundTripper
	clock  Clock
	policy RetryPolicy
	notify func(format string, args ...any)
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	serverErrors, rateWaits := 0, 0
	for {
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		wait, why, retry := t.decide(resp, &serverErrors, &rateWaits)
		if !retry {
			return resp, nil
		}
		if req.Body != nil && req.GetBody == nil {
			return resp, nil // cannot resend the body
		}
		if wait > t.policy.MaxWait {
			// Longer than we may wait: go-github turns the answer into a
			// rate-limit error, which the flow explains with the reset time.
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t.notify("%s %s: %s; waiting %s (until %s) before retrying", req.Method, req.URL.Path, why.text,
			wait.Round(time.Second), t.clock.Now().Add(wait).UTC().Format("15:04:05 UTC"))
		if err := t.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		next := req.Clone(ctx)
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			next.Body = body
		}
		req = next
	}
}

type retryReason struct {
	text string
}

func (t *retryTransport) decide(resp *http.Response, serverErrors, rateWaits *int) (time.Duration, retryReason, bool) {
	code := resp.StatusCode
	switch {
	case code >= 500 && code != http.StatusNotImplemented:
		*serverErrors++
		if *serverErrors >= t.policy.ServerErrorAttempts {
			return 0, retryReason{}, false
		}
		wait := t.policy.FirstBackoff << (*serverErrors - 1)
		return wait, retryReason{text: fmt.Sprintf("GitHub answered %s (attempt %d of %d)", resp.Status, *serverErrors, t.policy.ServerErrorAttempts)}, true
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		wait, kind, ok := rateLimitWait(resp, t.clock.Now())
		if !ok {
			return 0, retryReason{}, false
		}
		*rateWaits++
		if *rateWaits > t.policy.RateLimitAttempts {
			return 0, retryReason{}, false
		}
		return wait, retryReason{text: fmt.Sprintf("GitHub %s rate limit reached (%d)", kind, code)}, true
	}
	return 0, retryReason{}, false
}

// rateLimitWait reads how long GitHub asks to wait, following GitHub's
// documentation: Retry-After first (secondary limits), then
// X-RateLimit-Remaining: 0 with X-RateLimit-Reset (primary), and a minute
// for a 429 that says neither.
func rateLimitWait(resp *http.Response, now time.Time) (time.Duration, string, bool) {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, "secondary", true
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			wait := time.Unix(reset, 0).Sub(now) + time.Second
			if wait < time.Second {
				wait = time.Second
			}
			return wait, "primary", true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return time.Minute, "secondary", true
	}
	return 0, "", false
}

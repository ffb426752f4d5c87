package prepull

import (
	"net/http"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
)

// RequestCounter counts the HTTP requests a client makes to the apiserver,
// by verb and resource ("LIST nodes", "WATCH pods", "POST daemonsets").
type RequestCounter struct {
	mu     sync.Mutex
	total  int
	byKind map[string]int
}

// CountRequests makes every client built from cfg count its requests.
func CountRequests(cfg *rest.Config) *RequestCounter {
	c := &RequestCounter{byKind: map[string]int{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			c.add(requestKind(req))
			return rt.RoundTrip(req)
		})
	})
	return c
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *RequestCounter) add(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.byKind[kind]++
}

// Total returns the number of requests so far.
func (c *RequestCounter) Total() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// ByKind returns a copy of the counts per verb and resource.
func (c *RequestCounter) ByKind() map[string]int {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byKind))
	for k, v := range c.byKind {
		out[k] = v
	}
	return out
}

// requestKind names a request by verb and resource from its URL
// (/api/v1/namespaces/ns/pods/name/log -> GET pods/log).
func requestKind(req *http.Request) string {
	verb := req.Method
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// Drop the group/version prefix: api/v1 or apis/group/version.
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return verb + " " + req.URL.Path
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	resource := ""
	if len(parts) > 0 {
		resource = parts[0]
	}
	if len(parts) > 2 {
		resource += "/" + parts[2]
	}
	q := req.URL.Query()
	switch {
	case verb == http.MethodGet && q.Get("watch") == "true" || q.Get("watch") == "1":
		verb = "WATCH"
	case verb == http.MethodGet && len(parts) == 1:
		verb = "LIST"
	}
	return verb + " " + resource
}

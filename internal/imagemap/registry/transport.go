package registry

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
)

// hostTransport sits under go-containerregistry's own transports and decides,
// per request, how to reach the registry:
//
//   - A plain-HTTP request to a host not listed as insecure is sent over
//     HTTPS instead. go-containerregistry falls back to HTTP by itself for
//     loopback and private addresses; confrun does so only when asked.
//   - For a listed host, HTTPS is tried with any certificate (docker's
//     meaning of an insecure registry); once the host has answered HTTPS
//     with plain HTTP, its HTTPS requests go straight to HTTP.
//   - The registry's answer to the API ping (GET /v2/) is kept per scheme
//     and host for the client's lifetime: go-containerregistry pings once
//     per repository, and a map names dozens of repositories on one host.
type hostTransport struct {
	secure, insecureTLS http.RoundTripper
	insecure            func(host string) bool

	mu       sync.Mutex
	httpOnly map[string]bool
	pings    map[string]*ping
}

// ping is one remembered /v2/ answer; done closes when it is known.
type ping struct {
	done   chan struct{}
	ok     bool
	status int
	header http.Header
}

func newTransport(base http.RoundTripper, insecure func(string) bool) *hostTransport {
	t := &hostTransport{secure: base, insecureTLS: base, insecure: insecure, httpOnly: map[string]bool{}, pings: map[string]*ping{}}
	if ht, ok := base.(*http.Transport); ok {
		c := ht.Clone()
		if c.TLSClientConfig == nil {
			c.TLSClientConfig = &tls.Config{}
		}
		c.TLSClientConfig.InsecureSkipVerify = true // only for hosts the user listed
		t.insecureTLS = c
	}
	return t
}

func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	listed := t.insecure(host)
	switch {
	case req.URL.Scheme == "http" && !listed:
		req = withScheme(req, "https")
	case req.URL.Scheme == "https" && listed && t.isHTTPOnly(host):
		req = withScheme(req, "http")
	}
	if req.Method == http.MethodGet && req.URL.Path == "/v2/" {
		return t.ping(req, listed)
	}
	return t.send(req, listed)
}

func (t *hostTransport) send(req *http.Request, listed bool) (*http.Response, error) {
	next := t.secure
	if listed {
		next = t.insecureTLS
	}
	resp, err := next.RoundTrip(req)
	if err != nil && listed && req.URL.Scheme == "https" && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		t.mu.Lock()
		t.httpOnly[req.URL.Host] = true
		t.mu.Unlock()
	}
	return resp, err
}

func (t *hostTransport) isHTTPOnly(host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.httpOnly[host]
}

// ping answers GET /v2/ from memory when this scheme and host answered
// before; the first caller asks the registry while the others wait.
func (t *hostTransport) ping(req *http.Request, listed bool) (*http.Response, error) {
	key := req.URL.Scheme + "://" + req.URL.Host
	t.mu.Lock()
	p, known := t.pings[key]
	if !known {
		p = &ping{done: make(chan struct{})}
		t.pings[key] = p
	}
	t.mu.Unlock()
	if known {
		select {
		case <-p.done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		if p.ok {
			return &http.Response{Status: http.StatusText(p.status), StatusCode: p.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: p.header.Clone(), Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
		}
		return t.send(req, listed)
	}
	resp, err := t.send(req, listed)
	if err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized) {
		p.ok, p.status, p.header = true, resp.StatusCode, resp.Header.Clone()
	} else {
		// Not remembered: the next ping asks again.
		t.mu.Lock()
		delete(t.pings, key)
		t.mu.Unlock()
	}
	close(p.done)
	return resp, err
}

func withScheme(req *http.Request, scheme string) *http.Request {
	r := req.Clone(req.Context())
	r.URL.Scheme = scheme
	return r
}

// Package registry talks to container registries for confrun: it inspects
// one reference for one architecture (does the tag exist, for linux/ARCH?)
// and copies one image between registries. It uses go-containerregistry
// with the docker config / credential-helper keychain, HTTPS everywhere
// except for registries the user lists as insecure, and a timeout per
// operation.
package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/buildinfo"
)

// DefaultTimeout bounds one operation on one reference (auth, manifest and
// config requests together).
const DefaultTimeout = 30 * time.Second

// Options configure a Client.
type Options struct {
	// Insecure lists registries (host or host:port) that may be reached
	// over plain HTTP. Every other registry is reached over HTTPS only,
	// loopback and private addresses included.
	Insecure []string
	// Keychain finds credentials; default authn.DefaultKeychain (docker
	// config.json and its credential helpers).
	Keychain authn.Keychain
	// Timeout bounds one operation on one reference; default
	// DefaultTimeout.
	Timeout time.Duration
	// Transport is the base HTTP transport (tests give one that trusts a
	// test CA); default a tuned clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Concurrency sizes the idle connection pool per host; default 16.
	Concurrency int
}

// Client inspects and copies images. It is safe for concurrent use and
// reuses connections and tokens across references.
type Client struct {
	opts   Options
	puller *remote.Puller
	pusher *remote.Pusher
	remote []remote.Option
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	hosts := make([]string, 0, len(o.Insecure))
	for _, h := range o.Insecure {
		t := strings.TrimSpace(h)
		if t == "" || strings.ContainsAny(t, "/ ") {
			return nil, fmt.Errorf("--insecure-registry %q: give a registry host or host:port, like 127.0.0.1:5000", h)
		}
		hosts = append(hosts, t)
	}
	o.Insecure = hosts
	base := o.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 10 * time.Second
		t.ResponseHeaderTimeout = o.Timeout
		t.MaxIdleConnsPerHost = o.Concurrency
		t.MaxIdleConns = 4 * o.Concurrency
		base = t
	}
	c := &Client{opts: o}
	c.remote = []remote.Option{
		remote.WithTransport(newTransport(base, c.insecure)),
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithUserAgent("confrun/" + buildinfo.Get().Version),
		// Short retries: a registry that is down should be reported as
		// unreachable within the per-operation timeout.
		remote.WithRetryBackoff(remote.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
		remote.WithJobs(4),
	}
	var err error
	if c.puller, err = remote.NewPuller(c.remote...); err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	if c.pusher, err = remote.NewPusher(c.remote...); err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	return c, nil
}

// Timeout is the per-operation timeout.
func (c *Client) Timeout() time.Duration { return c.opts.Timeout }

// insecure reports whether host (host or host:port) was listed.
func (c *Client) insecure(host string) bool { return Listed(c.opts.Insecure, host) }

// Listed reports whether registry host (host or host:port) is in hosts,
// by itself or by its host part.
func Listed(hosts []string, host string) bool {
	bare := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		bare = h
	}
	for _, h := range hosts {
		if h == host || h == bare {
			return true
		}
	}
	return false
}

// ParseReference parses s for this client: references to listed insecure
// registries may use HTTP.
func (c *Client) ParseReference(s string) (name.Reference, error) {
	var opts []name.Option
	if r, err := name.ParseReference(s); err == nil && c.insecure(r.Context().RegistryStr()) {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("%q is not an image reference: %w", s, err)
	}
	return ref, nil
}

// withTimeout bounds one operation.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.Timeout)
}

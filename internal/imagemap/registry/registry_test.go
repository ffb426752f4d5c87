package registry

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap/regtest"
)

var mips = arch.MustParse("mips64el")

func client(t *testing.T, o Options) *Client {
	t.Helper()
	if o.Keychain == nil {
		o.Keychain = authn.NewMultiKeychain() // anonymous: no ~/.docker in tests
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInspectStatuses(t *testing.T) {
	host := regtest.Start(t, regtest.Private)
	idx, children := regtest.MustPushIndex(t, host+"/multi/agnhost:2.56", "linux/amd64", "linux/mips64le")
	single := regtest.MustPushImage(t, host+"/single/pause:3.10", "linux/mips64le")
	regtest.MustPushImage(t, host+"/amd64only/busybox:1.37", "linux/amd64")
	regtest.MustPushIndex(t, host+"/multi/nginx:1.27", "linux/amd64", "linux/arm64")

	closed := regtest.ClosedAddr(t)

	c := client(t, Options{Insecure: []string{host, closed}})
	ctx := context.Background()
	cases := []struct {
		ref    string
		status Status
		detail string
	}{
		{host + "/multi/agnhost:2.56", StatusOK, ""},
		{host + "/single/pause:3.10", StatusOK, ""},
		{host + "/amd64only/busybox:1.37", StatusWrongArch, "holds linux/amd64, not linux/mips64le"},
		{host + "/multi/nginx:1.27", StatusWrongArch, "linux/amd64, linux/arm64"},
		{host + "/multi/agnhost:9.99", StatusMissing, "MANIFEST_UNKNOWN"},
		{host + "/nosuchrepo/x:1", StatusMissing, ""},
		{host + "/private/agnhost:2.6", StatusUnauthorized, "docker login"},
		{closed + "/x/y:1", StatusUnreachable, "connection refused"},
	}
	for _, tc := range cases {
		r := c.Inspect(ctx, tc.ref, mips)
		if r.Status != tc.status || !strings.Contains(r.Detail, tc.detail) {
			t.Errorf("%s: %s %q, want %s containing %q", tc.ref, r.Status, r.Detail, tc.status, tc.detail)
		}
	}
	r := c.Inspect(ctx, host+"/multi/agnhost:2.56", mips)
	if r.Digest != idx || r.ArchDigest != children["linux/mips64le"] || strings.Join(r.Platforms, ",") != "linux/amd64,linux/mips64le" {
		t.Errorf("index result %+v, index %s children %v", r, idx, children)
	}
	r = c.Inspect(ctx, host+"/single/pause:3.10", mips)
	if r.Digest != single || r.ArchDigest != single {
		t.Errorf("single result %+v, digest %s", r, single)
	}
	// The same index is fine for amd64 too: arch is a parameter.
	if r := c.Inspect(ctx, host+"/multi/nginx:1.27", arch.MustParse("aarch64")); r.Status != StatusOK {
		t.Errorf("nginx for arm64: %+v", r)
	}
}

func TestVariants(t *testing.T) {
	host := regtest.Start(t)
	regtest.MustPushIndex(t, host+"/a/v7:1", "linux/arm/v7")
	regtest.MustPushIndex(t, host+"/a/v6:1", "linux/arm/v6")
	c := client(t, Options{Insecure: []string{host}})
	armhf := arch.MustParse("armhf")
	if r := c.Inspect(context.Background(), host+"/a/v7:1", armhf); r.Status != StatusOK {
		t.Errorf("arm/v7 for armhf: %+v", r)
	}
	if r := c.Inspect(context.Background(), host+"/a/v6:1", armhf); r.Status != StatusWrongArch {
		t.Errorf("arm/v6 for armhf: %+v", r)
	}
}

func TestHTTPOnlyWhenListed(t *testing.T) {
	host := regtest.Start(t)
	regtest.MustPushImage(t, host+"/a/b:1", "linux/mips64le")
	// Not listed: confrun insists on HTTPS even for a loopback registry.
	r := client(t, Options{}).Inspect(context.Background(), host+"/a/b:1", mips)
	if r.Status != StatusUnreachable || !strings.Contains(r.Detail, "--insecure-registry") {
		t.Errorf("plain-HTTP registry not listed: %+v", r)
	}
	// Listed by host without port works too.
	if r := client(t, Options{Insecure: []string{"127.0.0.1"}}).Inspect(context.Background(), host+"/a/b:1", mips); r.Status != StatusOK {
		t.Errorf("listed by host: %+v", r)
	}
	if _, err := New(Options{Insecure: []string{"http://x"}}); err == nil {
		t.Error("--insecure-registry with a scheme accepted")
	}
}

func TestHTTPS(t *testing.T) {
	s := httptest.NewTLSServer(gcrregistry.New(gcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer s.Close()
	host := strings.TrimPrefix(s.URL, "https://")
	tr := s.Client().Transport
	if _, err := regtest.PushImage(host+"/a/b:1", "linux/mips64le", 1, remote.WithTransport(tr)); err != nil {
		t.Fatal(err)
	}
	c := client(t, Options{Transport: tr})
	if r := c.Inspect(context.Background(), host+"/a/b:1", mips); r.Status != StatusOK {
		t.Errorf("HTTPS registry: %+v", r)
	}
}

func TestTimeout(t *testing.T) {
	stall := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				<-r.Context().Done() // never answers
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	host := regtest.Start(t, stall)
	c := client(t, Options{Insecure: []string{host}, Timeout: 300 * time.Millisecond})
	r := c.Inspect(context.Background(), host+"/a/b:1", mips)
	if r.Status != StatusUnreachable || !strings.Contains(r.Detail, "no answer within") {
		t.Errorf("stalled registry: %+v", r)
	}
}

func TestCopy(t *testing.T) {
	src := regtest.Start(t)
	dst := regtest.Start(t)
	idx, children := regtest.MustPushIndex(t, src+"/cke/agnhost-mips64el:2.56", "linux/amd64", "linux/mips64le")
	regtest.MustPushImage(t, src+"/cke/amd64only:1", "linux/amd64")
	c := client(t, Options{Insecure: []string{src, dst}})
	ctx := context.Background()

	got, err := c.Copy(ctx, src+"/cke/agnhost-mips64el:2.56", dst+"/e2e-test-images/agnhost:2.56", mips, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != children["linux/mips64le"] {
		t.Errorf("copied %s, want the mips64le image %s", got.Digest, children["linux/mips64le"])
	}
	r := c.Inspect(ctx, dst+"/e2e-test-images/agnhost:2.56", mips)
	if r.Status != StatusOK || r.Digest != children["linux/mips64le"] {
		t.Errorf("destination %+v", r)
	}
	if r := c.Inspect(ctx, dst+"/e2e-test-images/agnhost:2.56", arch.MustParse("amd64")); r.Status != StatusWrongArch {
		t.Errorf("only the mips64le image should be copied: %+v", r)
	}

	got, err = c.Copy(ctx, src+"/cke/agnhost-mips64el:2.56", dst+"/all/agnhost:2.56", mips, true)
	if err != nil || got.Digest != idx {
		t.Fatalf("all platforms: %+v %v (index %s)", got, err, idx)
	}
	if r := c.Inspect(ctx, dst+"/all/agnhost:2.56", arch.MustParse("amd64")); r.Status != StatusOK || r.Digest != idx {
		t.Errorf("whole index at destination: %+v", r)
	}

	_, err = c.Copy(ctx, src+"/cke/amd64only:1", dst+"/x/y:1", mips, false)
	if st, _ := Classify(err); st != StatusWrongArch {
		t.Errorf("copying an amd64 image for mips64le: %v", err)
	}
	_, err = c.Copy(ctx, src+"/cke/nothere:1", dst+"/x/y:1", mips, false)
	if st, _ := Classify(err); st != StatusMissing {
		t.Errorf("copying a missing image: %v", err)
	}
}

func TestPingAskedOncePerHost(t *testing.T) {
	var mu sync.Mutex
	pings := 0
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				mu.Lock()
				pings++
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	}
	host := regtest.Start(t, count)
	var refs []string
	for i := 0; i < 20; i++ {
		ref := fmt.Sprintf("%s/repo%d/img:1", host, i)
		regtest.MustPushImage(t, ref, "linux/mips64le")
		refs = append(refs, ref)
	}
	mu.Lock()
	pings = 0
	mu.Unlock()
	c := client(t, Options{Insecure: []string{host}})
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := c.Inspect(context.Background(), ref, mips); r.Status != StatusOK {
				t.Errorf("%s: %+v", ref, r)
			}
		}()
	}
	wg.Wait()
	if pings != 1 {
		t.Errorf("%d pings for 20 repositories on one host, want 1", pings)
	}
}

func TestInsecureMeansAnyCertificateToo(t *testing.T) {
	s := httptest.NewUnstartedServer(gcrregistry.New(gcrregistry.Logger(log.New(io.Discard, "", 0))))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	s.StartTLS()
	defer s.Close()
	host := strings.TrimPrefix(s.URL, "https://")
	if _, err := regtest.PushImage(host+"/a/b:1", "linux/mips64le", 1, remote.WithTransport(s.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	if r := client(t, Options{}).Inspect(context.Background(), host+"/a/b:1", mips); r.Status != StatusUnreachable {
		t.Errorf("self-signed registry not listed: %+v", r)
	}
	if r := client(t, Options{Insecure: []string{host}}).Inspect(context.Background(), host+"/a/b:1", mips); r.Status != StatusOK {
		t.Errorf("self-signed registry listed as insecure: %+v", r)
	}
}

func TestListed(t *testing.T) {
	if !Listed([]string{"reg.example"}, "reg.example:5000") || !Listed([]string{"reg.example:5000"}, "reg.example:5000") || Listed([]string{"other:5000"}, "reg.example:5000") {
		t.Error("Listed does not match host or host:port")
	}
}

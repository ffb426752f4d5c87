package verify

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/regtest"
)

// inflight counts concurrent manifest requests.
type inflight struct {
	mu       sync.Mutex
	now, max int
}

func (f *inflight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			f.mu.Lock()
			f.now++
			if f.now > f.max {
				f.max = f.now
			}
			f.mu.Unlock()
			defer func() { f.mu.Lock(); f.now--; f.mu.Unlock() }()
		}
		h.ServeHTTP(w, r)
	})
}

func TestRunEveryStatus(t *testing.T) {
	var fl inflight
	host := regtest.Start(t, fl.wrap, regtest.Private)
	closed := regtest.ClosedAddr(t)
	var entries []imagemap.Entry
	add := func(target string, pull bool) {
		entries = append(entries, imagemap.Entry{Upstream: "up.example/" + target[strings.LastIndex(target, "/")+1:], Target: target, Pull: pull})
	}
	for i := 0; i < 20; i++ {
		ref := host + "/ok/img" + string(rune('a'+i)) + ":1"
		regtest.MustPushIndex(t, ref, "linux/amd64", "linux/mips64le")
		add(ref, true)
	}
	regtest.MustPushImage(t, host+"/amd/x:1", "linux/amd64")
	add(host+"/amd/x:1", true)
	add(host+"/ok/imga:404", true)
	add(host+"/private/y:1", true)
	add(closed+"/z/z:1", true)
	add("invalid.registry.k8s.io/invalid/alpine:3.1", false)

	c, err := registry.New(registry.Options{Insecure: []string{host, closed}, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	rep, err := Run(context.Background(), c, entries, arch.MustParse("mips64el"), Options{Concurrency: 4, OnResult: func(done, total int, it Item) {
		calls++
		if done != calls || total != len(entries)-1 {
			t.Errorf("OnResult(%d, %d) on call %d", done, total, calls)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.NotPulled != 1 || len(rep.Items) != len(entries)-1 || calls != len(rep.Items) {
		t.Fatalf("report: ok=%v notPulled=%d items=%d calls=%d", rep.OK(), rep.NotPulled, len(rep.Items), calls)
	}
	want := map[registry.Status]int{registry.StatusOK: 20, registry.StatusWrongArch: 1, registry.StatusMissing: 1, registry.StatusUnauthorized: 1, registry.StatusUnreachable: 1}
	for s, n := range want {
		if rep.Counts[s] != n {
			t.Errorf("%d %s, want %d (counts %v)", rep.Counts[s], s, n, rep.Counts)
		}
	}
	for i, it := range rep.Items {
		if it.Target != entries[i].Target {
			t.Errorf("item %d is %s, entry %s: order lost", i, it.Target, entries[i].Target)
		}
	}
	if len(rep.Failed()) != 4 {
		t.Errorf("failed: %+v", rep.Failed())
	}
	if fl.max > 4 {
		t.Errorf("%d manifest requests at once with concurrency 4", fl.max)
	}
}

func TestRunAllOK(t *testing.T) {
	host := regtest.Start(t)
	regtest.MustPushImage(t, host+"/a/b:1", "linux/mips64le")
	c, _ := registry.New(registry.Options{Insecure: []string{host}, Keychain: authn.NewMultiKeychain()})
	rep, err := Run(context.Background(), c, []imagemap.Entry{{Upstream: "x/b:1", Target: host + "/a/b:1", Pull: true}}, arch.MustParse("mips64le"), Options{})
	if err != nil || !rep.OK() {
		t.Errorf("%+v %v", rep, err)
	}
}

func TestRunCancelled(t *testing.T) {
	host := regtest.Start(t)
	c, _ := registry.New(registry.Options{Insecure: []string{host}, Keychain: authn.NewMultiKeychain()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, c, []imagemap.Entry{{Upstream: "x/b:1", Target: host + "/a/b:1", Pull: true}}, arch.MustParse("amd64"), Options{})
	if err == nil {
		t.Error("cancelled run reported no error")
	}
}

// TestRunSizes reads each ok image's manifest for the architecture: the
// item carries its blobs with their stored sizes, and images that are not
// ok carry none. (Counting shared blobs once is doctor's, with what each
// node holds: internal/doctor TestCheckImageMap.)
func TestRunSizes(t *testing.T) {
	var mu sync.Mutex
	manifestGETs := 0
	host := regtest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
				mu.Lock()
				manifestGETs++
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	img, err := regtest.Image("linux/mips64le", 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	want := m.Config.Size
	for _, l := range m.Layers {
		want += l.Size
	}
	// The same image under two names, as an index and as a single image,
	// and one image for another architecture.
	var entries []imagemap.Entry
	for _, ref := range []string{host + "/a/one:1", host + "/b/two:1"} {
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, imagemap.Entry{Upstream: "up/" + ref[len(host)+1:], Target: ref, Pull: true})
	}
	r, _ := name.ParseReference(host + "/c/idx:1")
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "mips64le"}}})
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	entries = append(entries, imagemap.Entry{Upstream: "up/c/idx:1", Target: host + "/c/idx:1", Pull: true})
	regtest.MustPushImage(t, host+"/d/amd:1", "linux/amd64")
	entries = append(entries, imagemap.Entry{Upstream: "up/d/amd:1", Target: host + "/d/amd:1", Pull: true})

	c, _ := registry.New(registry.Options{Insecure: []string{host}, Keychain: authn.NewMultiKeychain()})
	manifestGETs = 0
	rep, err := Run(context.Background(), c, entries, arch.MustParse("mips64el"), Options{Sizes: true})
	if err != nil {
		t.Fatal(err)
	}
	// One per tag, and one more only for the index's mips64le image: the
	// single images' manifests are not asked for twice.
	if manifestGETs != len(entries)+1 {
		t.Errorf("%d manifest GETs for %d tags, one of them an index", manifestGETs, len(entries))
	}
	size := func(it Item) (n int64) {
		for _, b := range it.Blobs {
			n += b.Size
		}
		return n
	}
	for i, it := range rep.Items {
		switch {
		case i < 3 && (it.Status != registry.StatusOK || size(it) != want || len(it.Blobs) != 1+len(m.Layers)):
			t.Errorf("%s: %s size %d blobs %d, want ok %d", it.Target, it.Status, size(it), len(it.Blobs), want)
		case i == 3 && (it.Status != registry.StatusWrongArch || len(it.Blobs) != 0):
			t.Errorf("%s: %s blobs %d", it.Target, it.Status, len(it.Blobs))
		}
	}
	// Without the option no manifest beyond the tag's is read.
	rep, _ = Run(context.Background(), c, entries, arch.MustParse("mips64el"), Options{})
	if len(rep.Items[0].Blobs) != 0 {
		t.Errorf("blobs without Options.Sizes: %d", len(rep.Items[0].Blobs))
	}
}

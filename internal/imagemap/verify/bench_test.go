package verify

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/regtest"
)

// BenchmarkVerify60 verifies 60 multi-arch images on an in-process registry
// over loopback HTTP with a fresh client each time (as one CLI run does).
// hack/bench/images.sh compares the CLI against skopeo on a real registry.
func BenchmarkVerify60(b *testing.B) {
	host := regtest.Start(b)
	var entries []imagemap.Entry
	for i := 0; i < 60; i++ {
		ref := fmt.Sprintf("%s/bench/image-%02d:1.0", host, i)
		if _, _, err := regtest.PushIndex(ref, []string{"linux/amd64", "linux/mips64le"}, int64(i)); err != nil {
			b.Fatal(err)
		}
		entries = append(entries, imagemap.Entry{Upstream: "up.example/image:1", Target: ref, Pull: true})
	}
	a := arch.MustParse("mips64el")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := registry.New(registry.Options{Insecure: []string{host}, Keychain: authn.NewMultiKeychain()})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Run(context.Background(), c, entries, a, Options{})
		if err != nil || !rep.OK() {
			b.Fatalf("%v %+v", err, rep.Failed())
		}
	}
}

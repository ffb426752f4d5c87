package helperimage

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/cliutil"
)

// fakeELF returns a minimal little-endian ELF64 executable for machine,
// with a PT_INTERP header when dynamic, followed by payload.
func fakeELF(machine elf.Machine, dynamic bool, payload string) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	phnum := uint16(1)
	if dynamic {
		phnum = 2
	}
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	for _, v := range []any{uint16(elf.ET_EXEC), uint16(machine), uint32(1), uint64(0x400000), uint64(64), uint64(0),
		uint32(0), uint16(64), uint16(56), phnum, uint16(64), uint16(0), uint16(0)} {
		_ = binary.Write(&b, le, v)
	}
	ph := func(typ elf.ProgType) {
		for _, v := range []any{uint32(typ), uint32(5), uint64(0), uint64(0x400000), uint64(0x400000), uint64(0), uint64(0), uint64(0x1000)} {
			_ = binary.Write(&b, le, v)
		}
	}
	ph(elf.PT_LOAD)
	if dynamic {
		ph(elf.PT_INTERP)
	}
	b.WriteString(payload)
	return b.Bytes()
}

func mustArch(t *testing.T, n string) arch.Arch {
	t.Helper()
	a, err := arch.Parse(n)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writeBins(t *testing.T, bins map[string][]byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for a, data := range bins {
		p := filepath.Join(dir, "bin-"+a)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		out[a] = p
	}
	return out
}

func layerFiles(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		h.Size = int64(len(data))
		h.Linkname = string(data) // the content, for comparison
		files[h.Name] = h
	}
	return files
}

func TestBuildMultiArchIndex(t *testing.T) {
	amd, mips := fakeELF(elf.EM_X86_64, false, "amd64 payload"), fakeELF(elf.EM_MIPS, false, "mips payload")
	o := Options{Arches: []arch.Arch{mustArch(t, "amd64"), mustArch(t, "mips64el"), mustArch(t, "x86_64")},
		Binaries: writeBins(t, map[string][]byte{"amd64": amd, "mips64le": mips})}
	idx, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests, want 2 (amd64 given twice under two names)", len(im.Manifests))
	}
	want := map[string][]byte{"amd64": amd, "mips64le": mips}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.OS != "linux" {
			t.Fatalf("descriptor %+v has no linux platform", d)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture || cf.OS != "linux" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != Entrypoint {
			t.Errorf("%s: config arch %s os %s entrypoint %v", d.Platform.Architecture, cf.Architecture, cf.OS, cf.Config.Entrypoint)
		}
		files := layerFiles(t, img)
		if len(files) != 1 {
			t.Errorf("%s: layer holds %d files, want only the binary", d.Platform.Architecture, len(files))
		}
		h := files["confrun"]
		if h == nil || h.Mode != 0o755 || h.Linkname != string(want[d.Platform.Architecture]) {
			t.Errorf("%s: /confrun %+v is not the given binary with mode 0755", d.Platform.Architecture, h)
		}
	}
}

func TestBuildIsReproducible(t *testing.T) {
	bins := writeBins(t, map[string][]byte{"amd64": fakeELF(elf.EM_X86_64, false, "v1")})
	digest := func(bins map[string]string) v1.Hash {
		idx, err := Build(context.Background(), Options{Arches: []arch.Arch{mustArch(t, "amd64")}, Binaries: bins})
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := digest(bins), digest(bins)
	if a != b {
		t.Errorf("same binary, different digests %s %s", a, b)
	}
	c := digest(writeBins(t, map[string][]byte{"amd64": fakeELF(elf.EM_X86_64, false, "v2")}))
	if a == c {
		t.Error("different binaries, same digest")
	}
}

func TestBuildRejectsUnusableBinaries(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"dynamic":    {fakeELF(elf.EM_X86_64, true, ""), "dynamically linked"},
		"wrong arch": {fakeELF(elf.EM_AARCH64, false, ""), "not linux/amd64"},
		"not ELF":    {[]byte("#!/bin/sh\necho hi\n"), "not an ELF"},
	} {
		_, err := Build(context.Background(), Options{Arches: []arch.Arch{mustArch(t, "amd64")}, Binaries: writeBins(t, map[string][]byte{"amd64": tc.data})})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if _, err := Build(context.Background(), Options{}); err == nil {
		t.Error("no architectures accepted")
	}
}

func TestBinaryDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "confrun-linux-riscv64"), fakeELF(elf.EM_RISCV, false, "rv"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	idx, err := Build(context.Background(), Options{Arches: []arch.Arch{mustArch(t, "riscv64")}, BinaryDir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.IndexManifest(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "confrun-linux-riscv64") {
		t.Errorf("log %q does not say which binary was used", log.String())
	}
}

func TestPushAndRef(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	bins := writeBins(t, map[string][]byte{"amd64": fakeELF(elf.EM_X86_64, false, "a"), "arm64": fakeELF(elf.EM_AARCH64, false, "b")})
	pushed, err := BuildAndPush(context.Background(), host, Options{Arches: []arch.Arch{mustArch(t, "amd64"), mustArch(t, "arm64")}, Binaries: bins})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pushed, host+"/"+DefaultRepository+"@sha256:") {
		t.Errorf("pushed %q", pushed)
	}
	ref, err := name.ParseReference(pushed)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("pulling back %s: %v", pushed, err)
	}
	d, _ := idx.Digest()
	if !strings.HasSuffix(pushed, d.String()) {
		t.Errorf("pulled digest %s, pushed %s", d, pushed)
	}
	// The tag named after the digest is there too.
	tagged, err := Ref(host, idx)
	if err != nil {
		t.Fatal(err)
	}
	tref, _ := name.ParseReference(tagged)
	if desc, err := remote.Get(tref); err != nil || desc.Digest != d {
		t.Errorf("tag %s: %v, %v", tagged, desc, err)
	}
	if r, _ := Ref("reg.example:5000/team/helper", idx); !strings.HasPrefix(r, "reg.example:5000/team/helper:sha-") {
		t.Errorf("ref under a repository: %s", r)
	}
}

func TestFindSource(t *testing.T) {
	root, err := FindSource(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "confrun")); err != nil {
		t.Errorf("source root %s has no cmd/confrun: %v", root, err)
	}
	if _, err := FindSource(t.TempDir()); err == nil {
		t.Error("found confrun's source in an empty directory")
	}
}

func TestFlagsResolve(t *testing.T) {
	f := Flags{Image: "reg/x:1"}
	if got, err := f.Resolve(context.Background(), nil, nil); err != nil || got != "reg/x:1" {
		t.Errorf("given image: %q %v", got, err)
	}
	f = Flags{}
	_, err := f.Resolve(context.Background(), []arch.Arch{mustArch(t, "amd64")}, nil)
	if cliutil.ExitCode(err) != cliutil.ExitUsage || !strings.Contains(err.Error(), "--helper-registry") {
		t.Errorf("no image, no registry: %v", err)
	}
}

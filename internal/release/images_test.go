package release

import (
	"strings"
	"testing"
)

func TestImagesEveryRelease(t *testing.T) {
	for _, r := range Supported() {
		d, err := Images(r)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		mod, err := ModuleVersion(r)
		if err != nil {
			t.Fatal(err)
		}
		if d.Module != mod {
			t.Errorf("%s: images.json read from %s, module.txt says %s", r, d.Module, mod)
		}
		keys := map[string]RegistryKey{}
		for _, k := range d.RegistryKeys {
			if k.Key == "" || k.Default == "" {
				t.Errorf("%s: incomplete registry key %+v", r, k)
			}
			keys[k.Key] = k
		}
		var pause, nodePause int
		for _, im := range d.Images {
			switch im.Kind {
			case ImageKindE2E, ImageKindCSI, ImageKindNodePause:
				if im.Ref != im.Registry+"/"+im.Name+":"+im.Version {
					t.Errorf("%s: %s is not registry/name:version of its parts %+v", r, im.Ref, im)
				}
				if im.RegistryKey != "" && keys[im.RegistryKey].Default != im.Registry {
					t.Errorf("%s: %s has key %s whose default is %q", r, im.Ref, im.RegistryKey, keys[im.RegistryKey].Default)
				}
			case ImageKindLiteral:
				if im.RegistryKey != "" || !strings.Contains(im.Source, ".go:") {
					t.Errorf("%s: literal %+v", r, im)
				}
			default:
				t.Errorf("%s: unknown kind %q", r, im.Kind)
			}
			if im.ID == "Pause" {
				pause++
			}
			if im.Kind == ImageKindNodePause {
				nodePause++
			}
		}
		if pause != 1 || nodePause != 1 {
			t.Errorf("%s: %d Pause configs and %d node pause images, want 1 each", r, pause, nodePause)
		}
	}
}

func TestImagesV134(t *testing.T) {
	d, err := Images(MustParse("v1.34"))
	if err != nil {
		t.Fatal(err)
	}
	// images.md: e2e.test --list-images of v1.34.4 prints 41 references,
	// and these are the ten repo-list keys of v1.34.
	listed := 0
	literal := map[string]bool{}
	for _, im := range d.Images {
		if im.Kind == ImageKindE2E || im.Kind == ImageKindCSI {
			listed++
		}
		if im.Kind == ImageKindLiteral {
			literal[im.Ref] = true
		}
	}
	if listed != 41 {
		t.Errorf("v1.34 lists %d images, e2e.test --list-images prints 41", listed)
	}
	var keys []string
	for _, k := range d.RegistryKeys {
		keys = append(keys, k.Key)
	}
	want := "gcAuthenticatedRegistry promoterE2eRegistry buildImageRegistry invalidRegistry gcEtcdRegistry gcRegistry sigStorageRegistry privateRegistry dockerLibraryRegistry cloudProviderGcpRegistry"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("v1.34 keys:\n%s\nwant\n%s", got, want)
	}
	for _, ref := range []string{"webserver:404", "gcr.io/google_samples/gb-redisslave:nonexistent"} {
		if !literal[ref] {
			t.Errorf("v1.34: the Deployment tests' run-time image %s is not in the inventory", ref)
		}
	}
}

func TestImageSources(t *testing.T) {
	srcs, err := ImageSources(MustParse("v1.34"))
	if err != nil {
		t.Fatal(err)
	}
	var agnhost *ImageSource
	for i := range srcs {
		if srcs[i].Dir == "agnhost" {
			agnhost = &srcs[i]
		}
	}
	if agnhost == nil || agnhost.Version != "2.56" {
		t.Fatalf("test/images/agnhost of v1.34: %+v", agnhost)
	}
	if b, ok := agnhost.Base("linux/amd64"); !ok || b != "alpine:3.21" {
		t.Errorf("agnhost base for linux/amd64 = %q, %v", b, ok)
	}
	if b, ok := agnhost.Base("linux/mips64le"); ok {
		t.Errorf("agnhost has a mips64le base %q upstream?", b)
	}
}

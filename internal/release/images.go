package release

import (
	"encoding/json"
	"fmt"
)

// Image data of a release, extracted by gen/images.go into
// data/vX.Y/images.json and data/vX.Y/baseimages.json. These are upstream
// facts only; what confrun does with them (which images are pulled, how
// they are mapped) lives in internal/imagemap.

// Image kinds as upstream defines them.
const (
	// ImageKindE2E is an image of test/utils/image/manifest.go's
	// initImageConfigs: printed by `e2e.test --list-images`, remapped by
	// the e2e repo list through its registry key.
	ImageKindE2E = "e2e"
	// ImageKindCSI is an image of a CSI driver manifest under
	// test/e2e/testing-manifests/storage-csi that manifest.go's
	// appendCSIImageConfigs adds to the list (v1.24 and later).
	ImageKindCSI = "csi"
	// ImageKindLiteral is an image name written literally in e2e test code
	// (for example "webserver:404" in the Deployment tests): never in
	// --list-images, never remapped, usually meant not to be pullable.
	ImageKindLiteral = "literal"
	// ImageKindNodePause is the pause (sandbox) image of the release's
	// node runtime as kubeadm configures it.
	ImageKindNodePause = "node-pause"
)

// ImageData is what upstream's e2e suite of one release says about images.
type ImageData struct {
	// Module is the k8s.io/kubernetes module version it was read from.
	Module string `json:"module"`
	// RegistryKeys are the fields of manifest.go's RegistryList, in
	// declaration order: the keys of the e2e repo list (KUBE_TEST_REPO_LIST).
	RegistryKeys []RegistryKey `json:"registryKeys"`
	// ReplaceOrder lists the keys in the order ReplaceRegistryInImageURL
	// matches an image's registry against their defaults (it decides the
	// key of CSI images whose registry is the default of two keys).
	ReplaceOrder []string `json:"replaceOrder,omitempty"`
	// Images are the images of the release: manifest.go's configs, the CSI
	// manifests' images, literal names in test code and the node's pause.
	Images []UpstreamImage `json:"images"`
}

// RegistryKey is one field of manifest.go's RegistryList.
type RegistryKey struct {
	// Key is the field's yaml tag, the key of the e2e repo list
	// (promoterE2eRegistry).
	Key string `json:"key"`
	// Field is the Go field name (PromoterE2eRegistry).
	Field string `json:"field"`
	// Default is the field's value when no repo list is given
	// (registry.k8s.io/e2e-test-images).
	Default string `json:"default"`
}

// UpstreamImage is one image reference of upstream's e2e suite.
type UpstreamImage struct {
	// Ref is the reference as the suite uses it by default.
	Ref string `json:"ref"`
	// Kind is one of the ImageKind constants.
	Kind string `json:"kind"`
	// ID is manifest.go's ImageID constant (Agnhost, Pause, ...) for
	// ImageKindE2E images.
	ID string `json:"id,omitempty"`
	// RegistryKey is the repo-list key whose value replaces Registry
	// (empty when no key can remap the image).
	RegistryKey string `json:"registryKey,omitempty"`
	// Registry, Name and Version are manifest.go's three Config parts:
	// Ref = Registry/Name:Version. Empty for literal references.
	Registry string `json:"registry,omitempty"`
	Name     string `json:"name,omitempty"`
	Version  string `json:"version,omitempty"`
	// Source is where in the kubernetes tree the reference was found.
	Source string `json:"source"`
}

// Images returns the image data of release r.
func Images(r Release) (*ImageData, error) {
	b, err := File(r, "images.json")
	if err != nil {
		return nil, err
	}
	var d ImageData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parsing embedded images.json of %s: %w", r, err)
	}
	return &d, nil
}

// ImageSource is one directory test/images/<Dir> of the kubernetes tree:
// the source of an e2e test image.
type ImageSource struct {
	// Dir is the path below test/images (agnhost, volume/nfs, httpd-new).
	Dir string `json:"dir"`
	// Version is the content of its VERSION file.
	Version string `json:"version,omitempty"`
	// Bases are the lines of its BASEIMAGE file, in order: the base image
	// upstream builds on for each OS/arch.
	Bases []BaseImage `json:"bases,omitempty"`
}

// BaseImage is one line of a BASEIMAGE file.
type BaseImage struct {
	// Platform is the OS/arch as BASEIMAGE writes it: linux/amd64,
	// linux/arm, windows/amd64/1809.
	Platform string `json:"platform"`
	// Image is the base image reference (alpine:3.21, arm64v8/alpine:3.21).
	Image string `json:"image"`
}

// Base returns the base image for platform ("linux/mips64le"), if upstream
// lists one.
func (s ImageSource) Base(platform string) (string, bool) {
	for _, b := range s.Bases {
		if b.Platform == platform {
			return b.Image, true
		}
	}
	return "", false
}

// ImageSources returns the test/images directories of release r with
// their VERSION and BASEIMAGE files.
func ImageSources(r Release) ([]ImageSource, error) {
	b, err := File(r, "baseimages.json")
	if err != nil {
		return nil, err
	}
	var out []ImageSource
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("parsing embedded baseimages.json of %s: %w", r, err)
	}
	return out, nil
}

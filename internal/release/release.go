// Package release knows the Kubernetes releases confrun supports and the
// upstream data of each (the conformance test list, and what other packages
// extract), embedded from the k8s.io/kubernetes module by `go generate`.
package release

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

//go:generate go run ./gen -versions versions.txt -out data

//go:embed data
var data embed.FS

// Release is a Kubernetes minor release such as v1.34.
type Release struct {
	Major, Minor int
}

func (r Release) String() string { return fmt.Sprintf("v%d.%d", r.Major, r.Minor) }

// Less orders releases.
func (r Release) Less(o Release) bool {
	if r.Major != o.Major {
		return r.Major < o.Major
	}
	return r.Minor < o.Minor
}

// IsZero reports whether r is unset.
func (r Release) IsZero() bool { return r == Release{} }

var releaseRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$`)

// Parse accepts "v1.34", "1.34", "v1.34.4", "v1.34.4-rc.1", "v1.34.4+k3s1".
func Parse(s string) (Release, error) {
	m := releaseRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Release{}, fmt.Errorf("%q is not a Kubernetes release: write it like v1.34 or v1.34.4", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return Release{Major: major, Minor: minor}, nil
}

// MustParse is Parse for constants.
func MustParse(s string) Release {
	r, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Supported lists the releases with embedded data, oldest first.
func Supported() []Release {
	ents, err := fs.ReadDir(data, "data")
	if err != nil {
		return nil
	}
	var out []Release
	for _, e := range ents {
		if r, err := Parse(e.Name()); err == nil && e.IsDir() {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// Latest is the newest release with embedded data.
func Latest() Release {
	s := Supported()
	return s[len(s)-1]
}

// Check returns an error naming the supported releases when r has no data.
func Check(r Release) error {
	if _, err := fs.Stat(data, "data/"+r.String()); err == nil {
		return nil
	}
	var names []string
	for _, s := range Supported() {
		names = append(names, s.String())
	}
	return fmt.Errorf("no embedded data for Kubernetes %s: confrun knows %s (a newer confrun may know more)", r, strings.Join(names, ", "))
}

// File returns an embedded upstream file of release r, such as
// "conformance.yaml".
func File(r Release, name string) ([]byte, error) {
	if err := Check(r); err != nil {
		return nil, err
	}
	b, err := data.ReadFile("data/" + r.String() + "/" + name)
	if err != nil {
		return nil, fmt.Errorf("reading embedded %s of %s: %w", name, r, err)
	}
	return b, nil
}

// ModuleVersion returns the k8s.io/kubernetes version r's data came from.
func ModuleVersion(r Release) (string, error) {
	b, err := File(r, "module.txt")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return "", fmt.Errorf("malformed embedded module.txt of %s", r)
	}
	return f[1], nil
}

// ConformanceTest is one entry of conformance.yaml.
type ConformanceTest struct {
	TestName    string `json:"testname"`
	CodeName    string `json:"codename"`
	Description string `json:"description,omitempty"`
	// Release is the release(s) the test was promoted or changed in, as
	// written upstream ("v1.9" or "v1.9, v1.18").
	Release string `json:"release"`
	File    string `json:"file"`
}

// Since returns the release the test became a conformance test in.
func (t ConformanceTest) Since() (Release, error) {
	first := strings.TrimSpace(strings.Split(t.Release, ",")[0])
	return Parse(first)
}

// ConformanceTests returns the conformance tests of release r, in
// upstream's order.
func ConformanceTests(r Release) ([]ConformanceTest, error) {
	b, err := File(r, "conformance.yaml")
	if err != nil {
		return nil, err
	}
	var tests []ConformanceTest
	if err := yaml.Unmarshal(b, &tests); err != nil {
		return nil, fmt.Errorf("parsing embedded conformance.yaml of %s: %w", r, err)
	}
	return tests, nil
}

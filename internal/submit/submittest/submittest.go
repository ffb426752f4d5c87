// Package submittest writes complete, passing k8s-conformance submission
// folders for tests: a Ginkgo v2 style e2e.log and junit_01.xml of a
// certified-conformance run covering every conformance test of a release
// (from the embedded conformance.yaml), a README.md and a PRODUCT.yaml.
// Tests derive failing folders from it by changing one thing.
package submittest

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"

	"github.com/confrun/confrun/internal/coverage"
	"github.com/confrun/confrun/internal/release"
)

// Options shape the folder. Zero values give a passing v1.34 submission.
type Options struct {
	Release string // "v1.34"
	Product string // "acme-mips"
	// Version is what e2e.log reports for e2e.test and kube-apiserver
	// (default Release + ".4").
	Version string
	// Skipped is how many non-conformance specs the suite also holds,
	// skipped (default 5).
	Skipped int
	// Failed makes the first Failed conformance tests fail, in e2e.log and
	// junit_01.xml alike.
	Failed int
}

// Write creates root/<release>/<product>/ with the four files and returns
// its path.
func Write(root string, o Options) (string, error) {
	if o.Release == "" {
		o.Release = "v1.34"
	}
	if o.Product == "" {
		o.Product = "acme-mips"
	}
	if o.Version == "" {
		o.Version = o.Release + ".4"
	}
	if o.Skipped == 0 {
		o.Skipped = 5
	}
	rel, err := release.Parse(o.Release)
	if err != nil {
		return "", err
	}
	names, err := coverage.Required(rel)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, o.Release, o.Product)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{
		"README.md":    Readme(o.Product),
		"PRODUCT.yaml": ProductYAML(o.Product),
		"e2e.log":      e2eLog(o, names),
		"junit_01.xml": junit(o, names),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// Readme is a finished README.md.
func Readme(product string) string {
	return fmt.Sprintf(`# %s

## Install

    curl -fsSL https://example.com/acme/install.sh | sh -s -- --arch mips64el
    acmectl cluster create --nodes 2

## Run the conformance tests

    confrun run --arch mips64el --product %s
`, product, product)
}

// ProductYAML is a complete PRODUCT.yaml.
func ProductYAML(product string) string {
	return fmt.Sprintf(`vendor: Acme Corp
name: %s
version: "2.10"
type: distribution
description: Kubernetes for mips64el servers.
website_url: https://example.com/acme
repo_url: https://example.com/acme/src
documentation_url: https://example.com/acme/docs
product_logo_url: https://example.com/acme/logo.svg
contact_email_address: certification@example.com
`, product)
}

func skippedName(i int) string {
	return fmt.Sprintf("[sig-storage] Fixture volume %d should be skipped outside conformance [Feature:Fixture]", i)
}

func e2eLog(o Options, names []string) string {
	var b strings.Builder
	total := len(names) + o.Skipped
	fmt.Fprintf(&b, `  I1121 23:53:05.950412   22280 e2e.go:109] Starting e2e run "009af1d3-dfde-4ff9-aa12-2e4e35f143a1" on Ginkgo node 1
Running Suite: Kubernetes e2e suite - /usr/local/bin
=====================================================
Random Seed: 1795305185 - will randomize all specs

Will run %d of %d specs
------------------------------
[SynchronizedBeforeSuite] 
k8s.io/kubernetes/test/e2e/e2e.go:69
  I1121 23:53:06.200190 22280 e2e.go:245] e2e test version: %s
  I1121 23:53:06.200918 22280 e2e.go:254] kube-apiserver version: %s
[SynchronizedBeforeSuite] PASSED [0.019 seconds]
------------------------------
`, len(names), total, o.Version, o.Version)
	for i, n := range names {
		// Ginkgo v2 -v: the spec's text and labels, its location, its
		// output; then a bare result line, or for a failure the result
		// with the name again ("[It]" after the container text).
		fmt.Fprintf(&b, "%s [sig-fixture, Conformance]\nk8s.io/kubernetes/test/e2e/fixture.go:%d\n  STEP: Creating a kubernetes client @ 11/21/26 23:53:06.442\n", n, i+1)
		if i < o.Failed {
			fmt.Fprintf(&b, "• [FAILED] [1.000 seconds]\n%s [sig-fixture, Conformance]\nk8s.io/kubernetes/test/e2e/fixture.go:%d\n\n  [FAILED] fixture failure\n  In [It] at: k8s.io/kubernetes/test/e2e/fixture.go:%d @ 11/21/26 23:54:07.548\n", logName(n), i+1, i+1)
		} else {
			b.WriteString("• [1.000 seconds]\n")
		}
		b.WriteString("------------------------------\n")
	}
	if o.Failed > 0 {
		fmt.Fprintf(&b, "\nSummarizing %d Failures:\n", o.Failed)
		for _, n := range names[:o.Failed] {
			fmt.Fprintf(&b, "  [FAIL] %s [sig-fixture, Conformance]\n  k8s.io/kubernetes/test/e2e/fixture.go:1\n", logName(n))
		}
	}
	result := "SUCCESS!"
	if o.Failed > 0 {
		result = "FAIL!"
	}
	fmt.Fprintf(&b, "\nRan %d of %d Specs in 5619.964 seconds\n%s -- %d Passed | %d Failed | 0 Pending | %d Skipped\n",
		len(names), total, result, len(names)-o.Failed, o.Failed, o.Skipped)
	if o.Failed > 0 {
		b.WriteString("--- FAIL: TestE2E (5620.10s)\nFAIL\n")
	} else {
		b.WriteString("PASS\n")
	}
	return b.String()
}

// logName writes a spec name the way Ginkgo v2's log does: "[It]" after
// the container text. The fixture puts it after the first bracketed word.
func logName(codename string) string {
	if i := strings.Index(codename, "] "); i > 0 {
		return codename[:i+2] + "[It] " + codename[i+2:]
	}
	return "[It] " + codename
}

func junit(o Options, names []string) string {
	var b strings.Builder
	total := len(names) + o.Skipped
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
  <testsuites tests="%d" disabled="%d" errors="0" failures="%d" time="5619.964">
      <testsuite name="Kubernetes e2e suite" package="/usr/local/bin" tests="%d" disabled="0" skipped="%d" errors="0" failures="%d" time="5619.964" timestamp="2026-11-21T23:53:06">
          <properties>
              <property name="SuiteSucceeded" value="%t"></property>
              <property name="FocusStrings" value="\[Conformance\]"></property>
              <property name="SkipStrings" value=""></property>
              <property name="LabelFilter" value=""></property>
              <property name="FocusFiles" value=""></property>
              <property name="SkipFiles" value=""></property>
          </properties>
          <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="0.019"></testcase>
`, total+1, o.Skipped, o.Failed, total+1, o.Skipped, o.Failed, o.Failed == 0)
	for i := 0; i < o.Skipped; i++ {
		fmt.Fprintf(&b, "          <testcase name=\"[It] %s\" classname=\"Kubernetes e2e suite\" status=\"skipped\" time=\"0\">\n              <skipped message=\"skipped\"></skipped>\n          </testcase>\n", html.EscapeString(skippedName(i)))
	}
	for i, n := range names {
		if i < o.Failed {
			fmt.Fprintf(&b, "          <testcase name=\"[It] %s\" classname=\"Kubernetes e2e suite\" status=\"failed\" time=\"1\">\n              <failure message=\"fixture failure\" type=\"failed\">fixture failure</failure>\n          </testcase>\n", html.EscapeString(n))
			continue
		}
		fmt.Fprintf(&b, "          <testcase name=\"[It] %s\" classname=\"Kubernetes e2e suite\" status=\"passed\" time=\"1\"></testcase>\n", html.EscapeString(n))
	}
	b.WriteString("      </testsuite>\n  </testsuites>\n")
	return b.String()
}

package submit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/submit/submittest"
)

func fullProduct() Product {
	return Product{Vendor: "Acme Corp", Name: "Acme Mips", Version: "1.10", Type: "distribution", Description: "Kubernetes on mips64el.",
		WebsiteURL: "https://example.com/acme", DocumentationURL: "https://example.com/acme/docs", ContactEmailAddress: "cert@example.com"}
}

func TestInitThenVerify(t *testing.T) {
	// A run already left its results: init finds the release and versions.
	root := t.TempDir()
	dir, err := submittest.Write(root, submittest.Options{Release: "v1.35", Product: "acme-mips"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileReadme, FileProduct} {
		os.Remove(filepath.Join(dir, f))
	}
	mapFile := filepath.Join(t.TempDir(), "imagemap.yaml")
	os.WriteFile(mapFile, []byte("images:\n- upstream: registry.k8s.io/e2e-test-images/agnhost:2.56\n  image: 127.0.0.1:5000/cke/kubernetes/agnhost-mips64el:2.56\n"), 0o644)
	res, err := Init(context.Background(), InitOptions{ResultsDir: root, ProductDir: "acme-mips", Product: fullProduct(),
		Arch: "mips64el", ImageMap: mapFile, Nodes: []string{"lab-node-1", "lab-node-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dir != dir || res.Release != "v1.35" || len(res.Missing) != 0 {
		t.Fatalf("init %+v", res)
	}
	readme := string(mustRead(t, filepath.Join(dir, FileReadme)))
	for _, want := range []string{"mips64el (linux/mips64le)", "lab-node-1, lab-node-2", "agnhost-mips64el:2.56", "e2e.test v1.35.4",
		"confrun run --arch mips64el --release v1.35 --product acme-mips --imagemap " + mapFile, ReadmePlaceholder} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %q:\n%s", want, readme)
		}
	}
	p, err := ReadProduct(filepath.Join(dir, FileProduct))
	if err != nil || *p != fullProduct() {
		t.Fatalf("PRODUCT.yaml %+v %v", p, err)
	}
	// "1.10" stays a string.
	if !strings.Contains(string(mustRead(t, filepath.Join(dir, FileProduct))), `version: "1.10"`) {
		t.Error("version not quoted")
	}
	rep := verify(t, VerifyOptions{Dir: dir})
	if !slices.Equal(rep.Failed, []string{RuleReadme}) {
		t.Fatalf("after init, failed %v, want only %s (the install instructions are the user's)", rep.Failed, RuleReadme)
	}
	// Replacing the placeholder makes it pass.
	editFile(t, filepath.Join(dir, FileReadme), func(s string) string {
		return strings.Replace(s, ReadmePlaceholder, "Run `acmectl install`.", 1)
	})
	if rep := verify(t, VerifyOptions{Dir: dir}); !rep.OK {
		t.Fatalf("after editing, failed %v", rep.Failed)
	}

	// Init never overwrites without Force.
	_, err = Init(context.Background(), InitOptions{ResultsDir: root, ProductDir: "acme-mips", Product: fullProduct()})
	if !errors.Is(err, atomicfile.ErrExists) {
		t.Errorf("second init: %v", err)
	}
}

func TestInitFromFilePromptAndMissing(t *testing.T) {
	root := t.TempDir()
	from := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(from, []byte("vendor: From File\nname: acme\ntype: installer\n"), 0o644)
	asked := []string{}
	res, err := Init(context.Background(), InitOptions{ResultsDir: root, Release: "v1.34", ProductDir: "acme", FromFile: from,
		Product: Product{Name: "Acme Override"},
		Prompt: func(f ProductField) (string, error) {
			asked = append(asked, f.Key)
			if f.Key == "version" {
				return " 3.0 ", nil
			}
			return "", nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ReadProduct(filepath.Join(res.Dir, FileProduct))
	if p.Vendor != "From File" || p.Name != "Acme Override" || p.Type != "installer" || p.Version != "3.0" {
		t.Errorf("product %+v", p)
	}
	if !slices.Equal(asked, []string{"version", "description", "website_url", "documentation_url", "contact_email_address"}) {
		t.Errorf("asked %v", asked)
	}
	if !slices.Equal(res.Missing, []string{"description", "website_url", "documentation_url", "contact_email_address"}) {
		t.Errorf("missing %v", res.Missing)
	}
	if _, err := Init(context.Background(), InitOptions{ResultsDir: root, ProductDir: "bad name"}); err == nil {
		t.Error("bad product name accepted")
	}
	if _, err := Init(context.Background(), InitOptions{ResultsDir: root, ProductDir: "x", FromFile: from + ".missing"}); err == nil {
		t.Error("missing --from accepted")
	}
	os.WriteFile(from, []byte("vendr: typo\n"), 0o644)
	if _, err := Init(context.Background(), InitOptions{ResultsDir: root, ProductDir: "y", FromFile: from}); err == nil || !strings.Contains(err.Error(), "vendr") {
		t.Errorf("unknown field in --from: %v", err)
	}
}

func TestPromptFrom(t *testing.T) {
	var out strings.Builder
	ask := PromptFrom(strings.NewReader("Acme\nsecond\n"), &out)
	a, _ := ask(ProductFields[0])
	b, _ := ask(ProductFields[1])
	c, _ := ask(ProductFields[2])
	if a != "Acme" || b != "second" || c != "" || !strings.Contains(out.String(), "vendor (") {
		t.Errorf("%q %q %q %q", a, b, c, out.String())
	}
}

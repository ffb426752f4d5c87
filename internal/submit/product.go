package submit

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Product is PRODUCT.yaml of a k8s-conformance submission.
type Product struct {
	Vendor              string `json:"vendor"`
	Name                string `json:"name"`
	Version             string `json:"version"`
	Type                string `json:"type"`
	Description         string `json:"description"`
	WebsiteURL          string `json:"website_url"`
	RepoURL             string `json:"repo_url,omitempty"`
	DocumentationURL    string `json:"documentation_url"`
	ProductLogoURL      string `json:"product_logo_url,omitempty"`
	ContactEmailAddress string `json:"contact_email_address"`
}

// ProductField describes one PRODUCT.yaml field.
type ProductField struct {
	Key      string
	Required bool
	// URL fields are checked for form and, online, for their content type.
	URL bool
	// Help is what the field holds, for prompts and error messages.
	Help string
}

// ProductFields lists PRODUCT.yaml's fields in the order they are written.
var ProductFields = []ProductField{
	{Key: "vendor", Required: true, Help: "the company or project behind the product"},
	{Key: "name", Required: true, Help: "the product's name"},
	{Key: "version", Required: true, Help: "the product's version (not the Kubernetes version)"},
	{Key: "type", Required: true, Help: "one of: distribution, hosted platform, installer"},
	{Key: "description", Required: true, Help: "one or two sentences about the product"},
	{Key: "website_url", Required: true, URL: true, Help: "the product's web page"},
	{Key: "repo_url", URL: true, Help: "the source repository, for open source products"},
	{Key: "documentation_url", Required: true, URL: true, Help: "the product's documentation"},
	{Key: "product_logo_url", URL: true, Help: "the logo, SVG, EPS or AI, showing the product name"},
	{Key: "contact_email_address", Required: true, Help: "who CNCF writes to about the certification"},
}

// ProductTypes are the values the review bot accepts for type.
var ProductTypes = []string{"distribution", "hosted platform", "installer"}

// Get returns the value of the field key.
func (p *Product) Get(key string) string {
	if f := p.field(key); f != nil {
		return *f
	}
	return ""
}

// Set sets the field key; unknown keys are an error.
func (p *Product) Set(key, value string) error {
	f := p.field(key)
	if f == nil {
		return fmt.Errorf("PRODUCT.yaml has no field %q", key)
	}
	*f = value
	return nil
}

func (p *Product) field(key string) *string {
	switch key {
	case "vendor":
		return &p.Vendor
	case "name":
		return &p.Name
	case "version":
		return &p.Version
	case "type":
		return &p.Type
	case "description":
		return &p.Description
	case "website_url":
		return &p.WebsiteURL
	case "repo_url":
		return &p.RepoURL
	case "documentation_url":
		return &p.DocumentationURL
	case "product_logo_url":
		return &p.ProductLogoURL
	case "contact_email_address":
		return &p.ContactEmailAddress
	}
	return nil
}

// Missing lists the required fields that are empty.
func (p *Product) Missing() []string {
	var out []string
	for _, f := range ProductFields {
		if f.Required && p.Get(f.Key) == "" {
			out = append(out, f.Key)
		}
	}
	return out
}

// Marshal renders p as PRODUCT.yaml. Every value is a YAML string (a
// version such as 1.10 is quoted), which the review bot needs.
func (p *Product) Marshal() ([]byte, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding PRODUCT.yaml: %w", err)
	}
	return b, nil
}

// ReadProduct reads a PRODUCT.yaml. Fields must be strings; unknown fields
// are an error, so that a typo does not silently leave a field empty.
func ReadProduct(path string) (*Product, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Product
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return &p, nil
}

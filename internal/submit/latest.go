package submit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/confrun/confrun/internal/release"
)

// AcceptedReleases is how many minor releases, counting back from the
// newest, k8s-conformance accepts for certification.
const AcceptedReleases = 3

// Reference is the newest Kubernetes release that acceptance is counted
// from, and where confrun learnt it.
type Reference struct {
	Latest release.Release `json:"-"`
	// Newest is Latest as text, for output.
	Newest string `json:"newest"`
	// Source says where Newest came from.
	Source string `json:"source"`
}

// Accepted lists the accepted releases, newest first.
func (r Reference) Accepted() []release.Release {
	var out []release.Release
	for i := 0; i < AcceptedReleases && r.Latest.Minor-i >= 0; i++ {
		out = append(out, release.Release{Major: r.Latest.Major, Minor: r.Latest.Minor - i})
	}
	return out
}

// Accepts reports whether rel is one of the accepted releases.
func (r Reference) Accepts(rel release.Release) bool {
	for _, a := range r.Accepted() {
		if a == rel {
			return true
		}
	}
	return false
}

// ResolveReference decides the newest release: an explicit latest wins,
// then a stable.txt (a file, or an http(s) URL fetched with client), then
// the newest release in confrun's embedded data.
func ResolveReference(ctx context.Context, latest, stableTxt string, client *http.Client) (Reference, error) {
	switch {
	case latest != "":
		r, err := release.Parse(latest)
		if err != nil {
			return Reference{}, fmt.Errorf("--latest: %w", err)
		}
		return Reference{Latest: r, Newest: r.String(), Source: "--latest"}, nil
	case stableTxt != "":
		text, err := readStableTxt(ctx, stableTxt, client)
		if err != nil {
			return Reference{}, err
		}
		r, err := release.Parse(text)
		if err != nil {
			return Reference{}, fmt.Errorf("stable.txt %s: %w", stableTxt, err)
		}
		return Reference{Latest: r, Newest: r.String(), Source: fmt.Sprintf("stable.txt %s (%s)", stableTxt, text)}, nil
	default:
		r := release.Latest()
		return Reference{Latest: r, Newest: r.String(), Source: "the newest release in confrun's embedded data (pass --latest or --stable-txt to count from another)"}, nil
	}
}

func readStableTxt(ctx context.Context, src string, client *http.Client) (string, error) {
	var b []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		if client == nil {
			client = http.DefaultClient
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return "", fmt.Errorf("--stable-txt %s: %w", src, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("fetching stable.txt from %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("fetching stable.txt from %s: %s", src, resp.Status)
		}
		if b, err = io.ReadAll(io.LimitReader(resp.Body, 4096)); err != nil {
			return "", fmt.Errorf("fetching stable.txt from %s: %w", src, err)
		}
	} else {
		var err error
		if b, err = os.ReadFile(src); err != nil {
			return "", fmt.Errorf("reading stable.txt: %w", err)
		}
	}
	text := strings.TrimSpace(string(b))
	if text == "" {
		return "", fmt.Errorf("stable.txt %s is empty: it should hold a version such as v1.34.4", src)
	}
	return strings.Fields(text)[0], nil
}

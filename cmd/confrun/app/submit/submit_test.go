package submit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/githubfake"
	isubmit "github.com/confrun/confrun/internal/submit"
	"github.com/confrun/confrun/internal/submit/submittest"
)

const secret = "ghp_cliSECRETtoken0123456789"

type result struct {
	stdout, stderr string
	err            error
	code           int
}

func runCmd(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(cliutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return result{stdout: out.String(), stderr: errOut.String(), err: err, code: cliutil.ExitCode(err)}
}

func (r result) all() string {
	s := r.stdout + r.stderr
	if r.err != nil {
		s += r.err.Error()
	}
	return s
}

func fakeGitHub(t *testing.T) *githubfake.Server {
	t.Helper()
	gh := githubfake.New(githubfake.Options{})
	t.Cleanup(gh.Close)
	scopes := "repo"
	gh.AddAccount(secret, githubfake.Account{Login: "alice", Scopes: &scopes})
	gh.AddRepo("cncf", "k8s-conformance", map[string]string{isubmit.PullRequestTemplate: "* [ ] checklist\n"})
	return gh
}

func goodDir(t *testing.T) string {
	t.Helper()
	dir, err := submittest.Write(t.TempDir(), submittest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSubmitCommandEndToEndAgainstFake(t *testing.T) {
	gh := fakeGitHub(t)
	dir := goodDir(t)
	t.Setenv("GITHUB_TOKEN", secret)
	sign := []string{"--signoff-name", "Alice Example", "--signoff-email", "alice@example.com", "--github-url", gh.URL()}
	var everything strings.Builder

	r := runCmd(t, append(sign, "--dry-run", dir)...)
	everything.WriteString(r.all())
	if r.err != nil || !strings.Contains(r.stdout, "Dry run: nothing was changed") || !strings.Contains(r.stdout, "alice/k8s-conformance (will be created)") {
		t.Fatalf("dry run: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	r = runCmd(t, append(sign, dir)...)
	everything.WriteString(r.all())
	if r.err != nil || !strings.Contains(r.stdout, "#1 ") || !strings.Contains(r.stdout, "(opened)") {
		t.Fatalf("submit: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	r = runCmd(t, append(sign, "-o", "json", dir)...)
	everything.WriteString(r.all())
	var res isubmit.SubmitResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.PullRequest != 1 || res.PullRequestAction != "unchanged" || res.CommitCreated {
		t.Fatalf("again: %v %+v\n%s", err, res, r.stdout)
	}
	if prs := gh.Pulls("cncf/k8s-conformance"); len(prs) != 1 || len(prs[0].Commits) != 1 {
		t.Fatalf("pulls %+v", prs)
	}

	// Error paths: a wrong token, a cut network.
	t.Setenv("GITHUB_TOKEN", secret+"x")
	r = runCmd(t, append(sign, dir)...)
	everything.WriteString(r.all())
	if r.code != 1 || !strings.Contains(r.err.Error(), "rejected the token") {
		t.Errorf("bad token: %d %v", r.code, r.err)
	}
	t.Setenv("GITHUB_TOKEN", secret)
	gh.CutAfter(3, githubfake.CutAfterHandling)
	r = runCmd(t, append(sign, dir)...)
	everything.WriteString(r.all())
	if r.err == nil {
		t.Error("cut run succeeded")
	}
	gh.Restore()

	if strings.Contains(everything.String(), secret) || strings.Contains(string(gh.AllContent()), secret) {
		t.Fatal("the token was printed or uploaded")
	}
	filepath.WalkDir(filepath.Dir(filepath.Dir(dir)), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && bytes.Contains(mustRead(t, p), []byte(secret)) {
			t.Errorf("token written to %s", p)
		}
		return nil
	})
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSubmitCommandTokenFile(t *testing.T) {
	gh := fakeGitHub(t)
	dir := goodDir(t)
	t.Setenv("GITHUB_TOKEN", "")
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--token-file", tf, "--signoff-name", "A", "--signoff-email", "a@example.com", "--github-url", gh.URL(), dir}
	r := runCmd(t, args...)
	if r.code != cliutil.ExitUsage || !strings.Contains(r.err.Error(), "chmod 600") || strings.Contains(r.all(), secret) {
		t.Fatalf("readable token file: %d %v", r.code, r.err)
	}
	if len(gh.Requests()) != 0 {
		t.Error("GitHub contacted with a refused token file")
	}
	os.Chmod(tf, 0o600)
	if r = runCmd(t, args...); r.err != nil || strings.Contains(r.all(), secret) {
		t.Fatalf("token file 0600: %v", r.err)
	}
	// No token at all.
	r = runCmd(t, "--signoff-name", "A", "--signoff-email", "a@example.com", dir)
	if r.code != cliutil.ExitUsage || !strings.Contains(r.err.Error(), "GITHUB_TOKEN") {
		t.Errorf("no token: %d %v", r.code, r.err)
	}
}

func TestSubmitCommandRefusesFailingFolder(t *testing.T) {
	dir := goodDir(t)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte(isubmit.ReadmePlaceholder+"\n"), 0o644)
	t.Setenv("GITHUB_TOKEN", secret)
	r := runCmd(t, "--signoff-name", "A", "--signoff-email", "a@example.com", "--github-url", "http://127.0.0.1:1/", dir)
	if r.code != cliutil.ExitFailure || !strings.Contains(r.err.Error(), "readme-instructions") {
		t.Fatalf("%d %v", r.code, r.err)
	}
}

func TestInitCommand(t *testing.T) {
	root := t.TempDir()
	r := runCmd(t, "init", "--results-dir", root, "--product", "acme", "--release", "v1.34", "--arch", "loongarch64",
		"--vendor", "Acme", "--name", "Acme", "--version", "1.0", "--type", "installer", "--nodes", "n1,n2", "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var res isubmit.InitResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Written) != 2 {
		t.Fatalf("%v %s", err, r.stdout)
	}
	readme := string(mustRead(t, filepath.Join(root, "v1.34", "acme", "README.md")))
	if !strings.Contains(readme, "loong64") || !strings.Contains(readme, "n1, n2") {
		t.Errorf("README:\n%s", readme)
	}
	if r = runCmd(t, "init", "--results-dir", root, "--product", "acme", "--release", "v1.34"); r.code != cliutil.ExitUsage || !strings.Contains(r.err.Error(), "--force") {
		t.Errorf("overwrite: %d %v", r.code, r.err)
	}
	if r = runCmd(t, "init"); r.code != cliutil.ExitUsage {
		t.Errorf("no --product: %d %v", r.code, r.err)
	}
}

package submit

import (
	"context"
	"fmt"
	"net/mail"
	"os"
	"os/exec"
	"strings"
)

// TokenEnv is the environment variable the GitHub token is read from.
const TokenEnv = "GITHUB_TOKEN"

// LoadToken returns the GitHub token from tokenFile, else from getenv
// (GITHUB_TOKEN). A token file that group or others can read is refused.
// Errors never contain the token.
func LoadToken(tokenFile string, getenv func(string) string) (string, error) {
	if tokenFile != "" {
		st, err := os.Stat(tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		if !st.Mode().IsRegular() {
			return "", fmt.Errorf("--token-file %s is not a regular file", tokenFile)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return "", fmt.Errorf("--token-file %s can be read by others (mode %04o): run `chmod 600 %s` (and consider the token exposed if others had access)", tokenFile, perm, tokenFile)
		}
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", fmt.Errorf("reading --token-file %s: %w", tokenFile, err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" || strings.ContainsAny(tok, " \t\n") {
			return "", fmt.Errorf("--token-file %s must hold exactly one token on one line", tokenFile)
		}
		return tok, nil
	}
	return strings.TrimSpace(getenv(TokenEnv)), nil
}

// Signoff is who signs the commit off (and authors it, as the DCO check
// wants the two to match).
type Signoff struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (s Signoff) String() string { return fmt.Sprintf("%s <%s>", s.Name, s.Email) }

// ResolveSignoff fills what name and email leave empty from `git config
// user.name` and `git config user.email`.
func ResolveSignoff(ctx context.Context, name, email string) (Signoff, error) {
	s := Signoff{Name: strings.TrimSpace(name), Email: strings.TrimSpace(email)}
	if s.Name == "" {
		s.Name = gitConfig(ctx, "user.name")
	}
	if s.Email == "" {
		s.Email = gitConfig(ctx, "user.email")
	}
	if s.Name == "" || s.Email == "" {
		return s, fmt.Errorf("the commit needs a sign-off (DCO): pass --signoff-name and --signoff-email, or set `git config --global user.name` and user.email")
	}
	if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email {
		return s, fmt.Errorf("sign-off email %q is not an email address", s.Email)
	}
	if strings.ContainsAny(s.Name, "<>\n") {
		return s, fmt.Errorf("sign-off name %q must not contain <, > or a newline", s.Name)
	}
	return s, nil
}

func gitConfig(ctx context.Context, key string) string {
	out, err := exec.CommandContext(ctx, "git", "config", "--get", key).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

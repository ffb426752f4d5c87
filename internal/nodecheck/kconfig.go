package nodecheck

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// KernelConfig is a parsed kernel .config: option name without the CONFIG_
// prefix to its value ("y", "m", a number or a quoted string). Options
// written as "# CONFIG_X is not set" map to "n".
type KernelConfig map[string]string

// ParseKernelConfig reads a kernel config in the .config format.
func ParseKernelConfig(r io.Reader) (KernelConfig, error) {
	cfg := KernelConfig{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# CONFIG_"); ok {
			if name, ok := strings.CutSuffix(rest, " is not set"); ok && name != "" && !strings.ContainsAny(name, " \t") {
				cfg[name] = "n"
			}
			continue
		}
		rest, ok := strings.CutPrefix(line, "CONFIG_")
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(rest, "=")
		if !ok || name == "" {
			continue
		}
		cfg[name] = val
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// configReader reads data, through gunzip when it is gzip (/proc/config.gz),
// whatever the file is called.
func configReader(data []byte) (io.Reader, error) {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("opening gzip: %w", err)
		}
		return zr, nil
	}
	return bytes.NewReader(data), nil
}

// ReadKernelConfig parses data, plain or gzip.
func ReadKernelConfig(data []byte) (KernelConfig, error) {
	r, err := configReader(data)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseKernelConfig(r)
	if err != nil {
		return nil, err
	}
	if len(cfg) == 0 {
		return nil, errors.New("no CONFIG_ lines: not a kernel config")
	}
	return cfg, nil
}

// LoadKernelConfigFile reads and parses a kernel config file (plain or
// gzip); it also returns the kernel version of the file's header comment,
// "" when there is none.
func LoadKernelConfigFile(file string) (KernelConfig, string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("reading kernel config: %w", err)
	}
	cfg, err := ReadKernelConfig(data)
	if err != nil {
		return nil, "", fmt.Errorf("parsing kernel config %s: %w", file, err)
	}
	return cfg, configKernelVersion(data), nil
}

// KernelConfigPaths are the places a kernel config is looked for, in order,
// relative to the root, for a kernel release. They are the ones
// k8s.io/system-validators (kubeadm preflight) searches.
func KernelConfigPaths(release string) []string {
	return []string{
		"proc/config.gz",
		"boot/config-" + release,
		"usr/src/linux-" + release + "/.config",
		"usr/src/linux/.config",
		"usr/lib/modules/" + release + "/config",
		"lib/modules/" + release + "/config",
		"usr/lib/ostree-boot/config-" + release,
		"usr/lib/kernel/config-" + release,
		"usr/src/linux-headers-" + release + "/.config",
		"lib/modules/" + release + "/build/.config",
	}
}

// findKernelConfig returns the first readable, parseable config below the
// root, its path relative to the root, and what was tried.
func (h *host) findKernelConfig() (KernelConfig, string, []string) {
	var tried []string
	for _, p := range KernelConfigPaths(h.release) {
		data, err := h.read(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				tried = append(tried, fmt.Sprintf("/%s: %v", p, err))
			}
			continue
		}
		cfg, err := ReadKernelConfig(data)
		if err != nil {
			tried = append(tried, fmt.Sprintf("/%s: %v", p, err))
			continue
		}
		return cfg, "/" + path.Clean(p), tried
	}
	return nil, "", tried
}

// state is what the config says about an option.
type optState int

const (
	optMissing optState = iota // "is not set" or absent
	optBuiltin                 // =y
	optModule                  // =m
	optValue                   // any other value (numbers, strings)
)

func (c KernelConfig) state(name string) (optState, string) {
	v, ok := c[name]
	switch {
	case !ok:
		return optMissing, "absent"
	case v == "y":
		return optBuiltin, "=y"
	case v == "m":
		return optModule, "=m"
	case v == "n":
		return optMissing, "is not set"
	default:
		return optValue, "=" + v
	}
}

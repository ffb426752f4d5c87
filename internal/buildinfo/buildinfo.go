// Package buildinfo reports the version of the confrun binary.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the Makefile through -ldflags -X.
var (
	version = ""
	commit  = ""
)

// Info describes this binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	// Sonobuoy is the sonobuoy library version linked in, when known.
	Sonobuoy string `json:"sonobuoy,omitempty"`
}

// Get returns the version information of the running binary.
func Get() Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/vmware-tanzu/sonobuoy" {
				info.Sonobuoy = d.Version
			}
		}
		if info.Commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					info.Commit = s.Value
				}
			}
		}
	}
	if info.Version == "" {
		info.Version = "v0.0.0-dev"
	}
	return info
}

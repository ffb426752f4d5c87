package nodecheck

import (
	"strings"
	"testing"
)

func FuzzReadKernelConfig(f *testing.F) {
	f.Add([]byte("CONFIG_CPUSETS=y\n# CONFIG_CGROUP_SCHED is not set\nCONFIG_HZ=250\nCONFIG_CMDLINE=\"a=b\"\n"))
	f.Add([]byte{0x1f, 0x8b, 0x08})
	f.Add([]byte("CONFIG_=y\nCONFIG_X\n# CONFIG_ is not set\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ReadKernelConfig(data)
		if err != nil {
			return
		}
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			return // gzip: the names are in the decompressed text
		}
		for name := range cfg {
			if name == "" || !strings.Contains(string(data), "CONFIG_"+name) {
				t.Fatalf("option %q is not in the input", name)
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
	f.Add("1 2 3 4 /a\\040b - cgroup x rw,name=systemd\n - \n")
	f.Fuzz(func(t *testing.T, data string) {
		for _, m := range parseMountinfo(strings.Split(data, "\n")) {
			if strings.HasPrefix(m.dir, "/") {
				t.Fatalf("mount dir %q is not relative", m.dir)
			}
			if m.v2 && len(m.controllers) > 0 {
				t.Fatalf("cgroup2 mount %q with v1 controllers", m.dir)
			}
		}
	})
}

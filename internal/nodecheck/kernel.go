package nodecheck

import (
	"fmt"
	"strings"
)

// kernelInput is what the option checks work from.
type kernelInput struct {
	cfg KernelConfig
	// src is the config's path as the node sees it, or the file given.
	src string
	// mods is nil when checking a config file offline: module presence
	// cannot be known then.
	mods *modules
	// cgroup is "v1" or "v2" for a live node, "" offline (then the options
	// of both cgroup versions are weighed, see cgroupVerdict).
	cgroup  string
	release string
}

// optionResult is one option's state, before it becomes a check.
type optionResult struct {
	opt      Option
	found    string // the name (Name or an alias) found enabled, "" if none
	state    optState
	detail   string // "=y", "=m", "is not set", "not in config"
	modName  string
	modState Status
	modText  string
	modFix   string
}

func (in *kernelInput) evaluate(o Option) optionResult {
	r := optionResult{opt: o}
	names := append([]string{o.Name}, o.Aliases...)
	r.state, r.detail = optMissing, "absent"
	for i, n := range names {
		st, d := in.cfg.state(n)
		if i == 0 {
			r.state, r.detail = st, d
		}
		if st != optMissing {
			r.found, r.state, r.detail = n, st, d
			break
		}
	}
	if r.state == optModule {
		r.modName = moduleName(Option{Name: r.found, Module: o.Module})
		r.modState, r.modText, r.modFix = in.moduleStatus(r.modName, r.found)
	}
	return r
}

// moduleStatus says whether a =m option's module can be used.
func (in *kernelInput) moduleStatus(name, option string) (Status, string, string) {
	m := in.mods
	if m == nil {
		return StatusOK, "module; presence not verifiable offline", ""
	}
	if name == "" {
		return StatusOK, "module (module name unknown, presence not verified)", ""
	}
	if m.loaded[name] {
		return StatusOK, "module " + name + " loaded (/proc/modules)", ""
	}
	if m.builtin[name] {
		return StatusOK, "module " + name + " built in (" + disp(m.dir+"/modules.builtin") + ")", ""
	}
	if m.dir == "" {
		return StatusFail, fmt.Sprintf("module %s not loaded and no module tree /lib/modules/%s", name, in.release),
			fmt.Sprintf("install the modules of kernel %s into /lib/modules/%s, or rebuild with CONFIG_%s=y", in.release, in.release, option)
	}
	f, ok := m.files[name]
	if !ok {
		return StatusFail, fmt.Sprintf("module %s not loaded and %s.ko not in %s", name, name, disp(m.dir)),
			fmt.Sprintf("install the missing module into %s (depmod -a), or rebuild with CONFIG_%s=y", disp(m.dir), option)
	}
	if why := noAutoload(name); why != "" {
		return StatusWarn, fmt.Sprintf("module present (%s) but not loaded: %s", disp(f), why),
			fmt.Sprintf("modprobe %s && echo %s > /etc/modules-load.d/k8s.conf", name, name)
	}
	return StatusOK, fmt.Sprintf("module present (%s), not loaded yet: the kernel loads it on first use", disp(f)), ""
}

func (r optionResult) enabled() bool { return r.state != optMissing }

func (r optionResult) usable() bool {
	return r.enabled() && (r.state != optModule || r.modState != StatusFail)
}

func missingFix(o Option) string {
	val := "=y"
	if moduleName(o) != "" {
		val = "=y (or =m)"
	}
	fix := fmt.Sprintf("set CONFIG_%s%s: scripts/config --enable %s && make olddefconfig", o.Name, val, o.Name)
	hint := o.Hint
	if h := optionHint(o.Name); h != "" {
		if hint != "" {
			hint = h + "; " + hint
		} else {
			hint = h
		}
	}
	if hint != "" {
		fix += " (" + hint + ")"
	}
	return fix
}

// optionCheck turns an evaluated option into a check. missing is the status
// a missing option gets; note is added to its evidence.
func (in *kernelInput) optionCheck(area string, r optionResult, missing Status, note string) Check {
	c := Check{Area: area, Name: "CONFIG_" + r.opt.Name}
	where := in.src
	switch {
	case !r.enabled():
		c.Status = missing
		c.Evidence = fmt.Sprintf("CONFIG_%s %s in %s; needed for: %s", r.opt.Name, r.detail, where, r.opt.Why)
		if r.detail == "absent" {
			c.Evidence = fmt.Sprintf("CONFIG_%s absent from %s; needed for: %s", r.opt.Name, where, r.opt.Why)
		}
		if len(r.opt.Aliases) > 0 {
			c.Evidence += fmt.Sprintf(" (aliases %s not set either)", strings.Join(r.opt.Aliases, ", "))
		}
		c.Fix = missingFix(r.opt)
	case r.state == optModule:
		c.Status = r.modState
		c.Evidence = fmt.Sprintf("CONFIG_%s=m in %s; %s", r.found, where, r.modText)
		c.Fix = r.modFix
	default:
		c.Status = StatusOK
		c.Evidence = fmt.Sprintf("CONFIG_%s%s in %s", r.found, r.detail, where)
	}
	if note != "" {
		c.Evidence += "; " + note
	}
	return c
}

// checkOptionSet checks every option of a set against the config.
func (in *kernelInput) checkOptionSet(set OptionSet) []Check {
	results := make([]optionResult, len(set.Options))
	for i, o := range set.Options {
		results[i] = in.evaluate(o)
	}
	// Offline, the cgroup version is unknown: a kernel needs the options of
	// at least one version.
	usable := map[string]bool{"v1": true, "v2": true}
	for _, r := range results {
		if r.opt.Cgroup != "" && r.opt.Need == Required && !r.usable() {
			usable[r.opt.Cgroup] = false
		}
	}
	var out []Check
	for _, r := range results {
		missing, note := StatusFail, ""
		if r.opt.Need == Optional {
			missing = StatusWarn
		}
		if r.opt.Cgroup != "" {
			if in.cgroup != "" && in.cgroup != r.opt.Cgroup {
				continue // the node runs the other cgroup version
			}
			if in.cgroup == "" {
				missing, note = in.cgroupVerdict(r.opt, usable, missing)
			} else {
				note = "needed with cgroup " + r.opt.Cgroup + ", which this node runs"
			}
		}
		c := in.optionCheck(set.Area, r, missing, note)
		if set.Area == AreaCNI {
			c.Name += " (" + set.Name + ")"
		}
		out = append(out, c)
	}
	return out
}

// cgroupVerdict grades a cgroup-version-specific option offline: missing
// it only matters when the other version is not usable either.
func (in *kernelInput) cgroupVerdict(o Option, usable map[string]bool, missing Status) (Status, string) {
	other := "v2"
	if o.Cgroup == "v2" {
		other = "v1"
	}
	if missing == StatusFail && usable[other] {
		missing = StatusWarn
	}
	note := "needed to run with cgroup " + o.Cgroup
	switch {
	case o.Cgroup == "v1" && usable["v2"]:
		note += " only; the config supports cgroup v2, the recommended mode"
	case o.Cgroup == "v2" && usable["v1"]:
		note += "; without it the node must boot cgroup v1, which kubelet v1.35+ refuses unless failCgroupV1: false"
	case !usable[other]:
		note += "; the config supports neither cgroup version fully"
	}
	return missing, note
}

// checkStorageDriver folds the alternative storage-driver options into one
// check: containerd's default snapshotter is overlayfs.
func (in *kernelInput) checkStorageDriver() Check {
	aliases := storageDriverAliases()
	var found []string
	for _, name := range storageDrivers() {
		r := in.evaluate(Option{Name: name, Aliases: aliases[name]})
		if r.usable() {
			found = append(found, "CONFIG_"+r.found+r.detail)
		}
	}
	c := Check{Area: AreaKernel, Name: "storage driver (OVERLAY_FS|AUFS_FS|BLK_DEV_DM)"}
	if len(found) > 0 {
		c.Status = StatusOK
		c.Evidence = strings.Join(found, ", ") + " in " + in.src
		return c
	}
	c.Status = StatusWarn
	c.Evidence = "none of CONFIG_OVERLAY_FS, CONFIG_AUFS_FS, CONFIG_BLK_DEV_DM usable in " + in.src + "; containerd's default snapshotter is overlayfs"
	c.Fix = missingFix(Option{Name: "OVERLAY_FS"})
	return c
}

#!/usr/bin/env bash
# Throughput and memory of `confrun junit` on a ~100 MB e2e.log made by
# concatenating the real sample logs, beside `wc -l` on the same file.
# Prints MB/s of both, their ratio (target >= 0.25) and confrun's peak RSS
# (target < 64 MB). Usage: [RUNS=n] hack/bench/junit.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb=${1:-100}

if [ ! -x /usr/bin/time ]; then
	echo "installing GNU time (apt-get install time) for the peak RSS" >&2
	apt-get install -y -qq time >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/confrun" ./cmd/confrun

samples=internal/e2elog/testdata/samples
log="$work/e2e.log"
while [ "$(stat -c %s "$log" 2>/dev/null || echo 0)" -lt $((size_mb * 1000 * 1000)) ]; do
	cat "$samples/v1.34-node-basic/e2e.log" "$samples/v1.34-node-basic-succinct/e2e.log" "$samples/v1.34-beforesuite-failure/e2e.log" >>"$log"
done
bytes=$(stat -c %s "$log")

# RUNS (default 5) runs of each, wc and confrun taking turns so that both
# see the same load: wall-clock seconds (nanosecond clock), CPU
# (user+system, as time(1) reports it, in 10 ms steps) seconds and peak
# RSS of each run; the file stays in the page cache. The machine is shared:
# the best run is the figure, the median and the load average say how noisy
# it was. On a busy machine the CPU figure is the steadier.
runs=${RUNS:-5}
measure() { # label command...: appends "wall cpu rss_kb" to $work/label
	local label=$1 t0 t1 u s m
	shift
	t0=$(date +%s%N)
	/usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >/dev/null 2>&1 || true
	t1=$(date +%s%N)
	read -r u s m < <(tail -1 "$work/time")
	awk -v a="$t0" -v b="$t1" -v u="$u" -v s="$s" -v m="$m" 'BEGIN{printf "%.4f %.2f %d\n", (b-a)/1e9, u+s, m}' >>"$work/runs.$label"
}
# stats label: best wall, median wall, best CPU, highest RSS (KB)
stats() {
	sort -n "$work/runs.$1" | awk '{w[NR]=$1; if (NR==1 || $2<c) c=$2; if ($3>r) r=$3}
		END {printf "%s %s %s %d\n", w[1], (NR%2 ? w[(NR+1)/2] : (w[NR/2]+w[NR/2+1])/2), c, r}'
}

cat "$log" >/dev/null
for _ in $(seq "$runs"); do
	measure wc wc -l "$log"
	# (the concatenation holds non-verbose runs: exit 3, incomplete, is expected)
	measure confrun "$work/confrun" junit --force -o "$work/junit_01.xml" "$log"
done
read -r wc_w wc_m wc_c _ < <(stats wc)
read -r cr_w cr_m cr_c rss_kb < <(stats confrun)
load=$(cut -d' ' -f1-3 /proc/loadavg)

awk -v b="$bytes" -v ww="$wc_w" -v wm="$wc_m" -v wc="$wc_c" -v cw="$cr_w" -v cm="$cr_m" -v cc="$cr_c" -v r="$rss_kb" -v n="$runs" -v load="$load" 'BEGIN {
	mb = b / 1e6
	wcc = (wc < 0.01) ? "<0.01" : sprintf("%.2f", wc)
	if (wc < 0.01) wc = 0.01 # time(1) resolves 10 ms: the CPU ratio is then an upper bound
	if (cc < 0.01) cc = 0.01
	printf "log: %.1f MB (the real sample logs, concatenated); %d runs each, load average %s\n", mb, n, load
	printf "wc -l:         %7.1f MB/s wall (best %.3f s, median %.3f s), CPU %s s\n", mb / ww, ww, wm, wcc
	printf "confrun junit: %7.1f MB/s wall (best %.3f s, median %.3f s), CPU %.2f s\n", mb / cw, cw, cm, cc
	printf "ratio confrun/wc: %.3f wall (medians %.3f), <= %.3f CPU (target >= 0.25)\n", ww / cw, wm / cm, wc / cc
	printf "confrun peak RSS: %.1f MB, highest of the runs (target < 64 MB)\n", r / 1024
}'

#!/usr/bin/env bash
# Throughput and memory of `confrun junit` on a ~100 MB e2e.log made by
# concatenating the real sample logs, beside `wc -l` on the same file.
# Prints MB/s of both, their ratio (target >= 0.25) and confrun's peak RSS
# (target < 64 MB). Usage: hack/bench/junit.sh [SIZE_MB]
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

# best of five runs: wall-clock seconds (nanosecond clock) and CPU
# (user+system, as time(1) reports it, in 10 ms steps) seconds; the file
# stays in the page cache. On a busy machine the CPU figure is the steadier.
best() {
	local bw="" bc="" w c t0 t1
	for _ in 1 2 3 4 5; do
		t0=$(date +%s%N)
		/usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		w=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}')
		read -r u s _ < <(tail -1 "$work/time")
		c=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')
		if [ -z "$bw" ] || awk -v a="$w" -v b="$bw" 'BEGIN{exit !(a<b)}'; then bw=$w; fi
		if [ -z "$bc" ] || awk -v a="$c" -v b="$bc" 'BEGIN{exit !(a<b)}'; then bc=$c; fi
	done
	echo "$bw $bc"
}

cat "$log" >/dev/null
read -r wc_w wc_c < <(best wc -l "$log")
# (the concatenation holds non-verbose runs: exit 3, incomplete, is expected)
read -r cr_w cr_c < <(best "$work/confrun" junit --force -o "$work/junit_01.xml" "$log")
/usr/bin/time -f '%M' -o "$work/time" "$work/confrun" junit --force -o "$work/junit_01.xml" "$log" >/dev/null 2>&1 || true
rss_kb=$(tail -1 "$work/time")

awk -v b="$bytes" -v ww="$wc_w" -v wc="$wc_c" -v cw="$cr_w" -v cc="$cr_c" -v r="$rss_kb" 'BEGIN {
	mb = b / 1e6
	wcc = (wc < 0.01) ? "<0.01" : sprintf("%.2f", wc)
	if (wc < 0.01) wc = 0.01 # time(1) resolves 10 ms: the CPU ratio is then an upper bound
	if (cc < 0.01) cc = 0.01
	printf "log: %.1f MB (the real sample logs, concatenated)\n", mb
	printf "wc -l:         %7.1f MB/s wall (%.3f s), CPU %s s\n", mb / ww, ww, wcc
	printf "confrun junit: %7.1f MB/s wall (%.3f s), CPU %.2f s\n", mb / cw, cw, cc
	printf "ratio confrun/wc: %.3f wall, <= %.3f CPU (target >= 0.25)\n", ww / cw, wc / cc
	printf "confrun peak RSS: %.1f MB (target < 64 MB)\n", r / 1024
}'

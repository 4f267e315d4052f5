#!/bin/sh
# bench/libfuzzer.sh — kmemsim fuzz next to libFuzzer with MemorySanitizer and
# with AddressSanitizer (clang, native x86-64) on examples/fuzz, same time budget.
#
#   sh bench/libfuzzer.sh [SECONDS]      (default 60 per example and tool)
#
# Each example is built natively twice (clang -fsanitize=fuzzer,memory and
# -fsanitize=fuzzer,address, against bench/libfuzzer/kmemsim/kernel.h: kmalloc
# is malloc) and fuzzed by libFuzzer for SECONDS with the example's dictionary
# and seeds, -seed=1 and -detect_leaks=0 (kmemsim does not look for leaks either,
# and LeakSanitizer's report would end the run first); kmemsim fuzz runs the same example with the checker
# that sees its bug (--kmemcheck, or --stack precise for stack-sum; every
# checker for clean) and --max-time SECONDS. One line per example and tool:
# what it reported first, or "nothing". Needs clang and its sanitizer runtimes
# (Debian: clang libclang-rt-14-dev); .ci/run does not run this.
set -u
T=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/kmemsim-libfuzzer.XXXXXX)
trap 'rm -rf "$W"' EXIT
KMEMSIM="node $ROOT/bin/kmemsim.js"
if ! command -v clang >/dev/null 2>&1; then echo "bench/libfuzzer.sh: clang not found (apt-get install clang libclang-rt-14-dev)"; exit 2; fi
printf '%-16s %-26s %s\n' example tool "first report within ${T}s"
for ex in record-type padding use-after-free stack-sum clean; do
  src="$ROOT/examples/fuzz/$ex.c"
  dict="$ROOT/examples/fuzz/$ex.dict"
  seeds="$ROOT/examples/fuzz/$ex.seeds"
  for san in memory address; do
    bin="$W/$ex-$san"
    if ! clang -g -O1 -Wno-unknown-attributes -fsanitize=fuzzer,$san -I"$ROOT/bench/libfuzzer" "$src" -o "$bin" 2>"$W/cc.log"; then
      printf '%-16s %-26s %s\n' "$ex" "libFuzzer + ${san}" "not built: $(head -1 "$W/cc.log")"
      continue
    fi
    corpus="$W/corpus-$ex-$san"; mkdir -p "$corpus"
    [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/
    d=""; [ -f "$dict" ] && d="-dict=$dict"
    (cd "$W" && timeout $((T + 30)) "$bin" -max_total_time="$T" -seed=1 -detect_leaks=0 $d "$corpus" >"$W/$ex-$san.log" 2>&1)
    what=$(grep -m1 -oE 'WARNING: MemorySanitizer: [a-z-]+|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+' "$W/$ex-$san.log")
    runs=$(grep -m1 -oE 'Done [0-9]+ runs' "$W/$ex-$san.log" | grep -oE '[0-9]+')
    printf '%-16s %-26s %s\n' "$ex" "libFuzzer + ${san}" "${what:-nothing}${runs:+ ($runs runs)}"
  done
  case $ex in
    stack-sum) chk="--stack precise";;
    clean) chk="--kmemcheck --stack precise";;
    *) chk="--kmemcheck";;
  esac
  i=""; [ -d "$seeds" ] && i="-i $seeds"
  x=""; [ -f "$dict" ] && x="-x $dict"
  $KMEMSIM fuzz "$src" $chk $x $i -o "$W/out-$ex" --seed 1 --max-time "$T" --status-interval 3600 >"$W/$ex-kmemsim.log" 2>&1
  what=$(grep -m1 -oE 'crash: .* \((.*)\)$' "$W/$ex-kmemsim.log" | sed 's/^crash: .* (\(.*\))$/\1/')
  execs=$(grep -oE '[0-9]+ execs' "$W/$ex-kmemsim.log" | tail -1)
  printf '%-16s %-26s %s\n' "$ex" "kmemsim fuzz $chk" "${what:-nothing}${execs:+ ($execs)}"
done

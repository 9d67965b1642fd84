#!/usr/bin/env bash
# Short CI fuzz run: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 10) each, from
# the seeds in fuzz/seeds/<target>/ (frames of the OpenThread captures). Build output, the
# growing corpora and crash artifacts stay under build/fuzz (cached between runs; only the
# first build is slow: libFuzzer and an instrumented pymesh, ~2-3 min on 2 cores).
#
# Works on the stable toolchain: cargo-fuzz passes nightly-only `-Z` flags (sanitizer, coverage
# instrumentation), which stable rustc accepts with RUSTC_BOOTSTRAP=1. Installs cargo-fuzz from
# crates.io when missing.
#
#   tools/fuzz-smoke.sh              # all targets, 10 s each (~2 min with a warm cache)
#   tools/fuzz-smoke.sh coap mle     # some targets
#   FUZZ_SECONDS=60 tools/fuzz-smoke.sh
#   tools/fuzz-smoke.sh --stable     # no libFuzzer: the deterministic mutated-seed loop
#                                    # (cargo test in fuzz/), for machines where cargo-fuzz fails
# Exit status: non-zero if any target found a crash (its input is in build/fuzz/artifacts/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${FUZZ_SECONDS:-10}

if [ "${1:-}" = "--stable" ]; then
  exec cargo test --manifest-path fuzz/Cargo.toml --target-dir build/fuzz/stable --test mutated_seeds
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=$root/build/fuzz

if [ $# -gt 0 ]; then
  targets="$*"
else
  targets=$(cargo fuzz list --fuzz-dir fuzz)
fi
start=$(date +%s)
cargo fuzz build --fuzz-dir fuzz
failed=()
for t in $targets; do
  corpus=build/fuzz/corpus/$t
  artifacts=build/fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  echo "== $t (${secs}s)"
  # New inputs go to the first corpus directory; the seeds directory is only read.
  if ! cargo fuzz run --fuzz-dir fuzz "$t" "$corpus" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    2>"build/fuzz/$t.log"; then
    failed+=("$t")
    tail -40 "build/fuzz/$t.log"
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "build/fuzz/$t.log" |
    tr '\n' ' ' | sed "s/^/   /"
  echo
done
echo "fuzz smoke: $(($(date +%s) - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]} (inputs under build/fuzz/artifacts/)" >&2
  exit 1
fi

#!/usr/bin/env bash
# Longer libFuzzer run of the device frame parser + dispatcher (tests/fuzz/fuzz_frame_parser.c)
# under ASan + UBSan. Usage: benchmarks/fuzz_frame_parser.sh [SECONDS] [JOBS]
# The corpus is kept in build/fuzz/corpus between runs; crashes land in build/fuzz/.
set -euo pipefail
SECONDS_TO_RUN=${1:-600}
JOBS=${2:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/build/fuzz}
PY=${PYTHON:-python3}
mkdir -p "$OUT/corpus"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -std=c99 -Wall -Wextra -Werror \
    -I"$ROOT/firmware_templates/common" -I"$ROOT/tests/fixtures/fake_model" \
    "$ROOT/tests/fuzz/fuzz_frame_parser.c" "$ROOT/firmware_templates/common/ek_protocol.c" \
    "$ROOT/firmware_templates/common/ek_app.c" "$ROOT/firmware_templates/common/ek_stream.c" \
    "$ROOT/firmware_templates/common/ek_profile.c" \
    "$ROOT/tests/fixtures/fake_model/edgekit_model.c" \
    -o "$OUT/fuzz_frame_parser"
"$PY" "$ROOT/tests/fuzz/seeds.py" "$OUT/corpus"
cd "$OUT"
PARALLEL=()
if [ "$JOBS" -gt 1 ]; then PARALLEL=(-jobs="$JOBS" -workers="$JOBS"); fi
exec ./fuzz_frame_parser -max_total_time="$SECONDS_TO_RUN" "${PARALLEL[@]}" \
    -max_len=4096 -timeout=10 -print_final_stats=1 corpus

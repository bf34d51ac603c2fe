#!/usr/bin/env bash
# The device checks of issue #13, for a machine with a CUDA GPU: one short, offline run.
#
#   bash scripts/gpu_check.sh            # ~3-6 min on one modern GPU once gantut is installed
#   GPU_CHECK_ALL=1 bash scripts/gpu_check.sh   # also every chapter in the gpu profile, tiny (tests/test_gpu_profile.py)
#
# 1. the machine: nvidia-smi, torch / CUDA / cuDNN versions, bf16 and TF32;
# 2. the CUDA-marked tests (pytest -m cuda: GPU training with and without AMP, GPU-written checkpoints loading
#    on the CPU, metrics on GPU tensors and their GPU-vs-CPU drift, DRS on the GPU, uint8 batches, the grading
#    device hint);
# 3. chapter 02 under `gantut run 02 --profile gpu` with small overrides, timed.
# Everything goes to $GPU_CHECK_OUT (default runs/gpu_check/); the summary is $GPU_CHECK_OUT/summary.txt.
# Needs no internet: GANTUT_OFFLINE=1 (offline MNIST), runs in a fresh runs folder. Python: $PYTHON or python.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${GPU_CHECK_OUT:-runs/gpu_check}
PY=${PYTHON:-python}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
export GANTUT_OFFLINE=1 MPLBACKEND=Agg GANTUT_RUNS="$OUT/runs" GANTUT_PROGRESS=off
status=0

say() { echo "$*" | tee -a "$SUMMARY"; }

: > "$SUMMARY"
say "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 | tee -a "$SUMMARY"
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
else
  say "nvidia-smi: not found"
fi
"$PY" - <<'EOF' 2>&1 | tee -a "$SUMMARY"
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
      f"cuda available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"device 0: {p.name}, {p.total_memory / 2**30:.0f} GiB, capability {p.major}.{p.minor}, "
          f"bf16 native: {torch.cuda.is_bf16_supported(including_emulation=False)}, "
          f"TF32 matmul: {torch.backends.cuda.matmul.allow_tf32}, TF32 cuDNN: {torch.backends.cudnn.allow_tf32}")
    import gantut
    print("gantut.device():", gantut.device())
EOF
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  say "FAIL: torch sees no CUDA device; the checks below would only skip. Stop."
  exit 1
fi

# 2. the CUDA-marked tests
t0=$(date +%s)
"$PY" -m pytest tests/test_device.py -m cuda -v -rs -s -p no:cacheprovider > "$OUT/pytest_cuda.log" 2>&1
rc=$?
say "-- pytest -m cuda: exit $rc in $(( $(date +%s) - t0 )) s ($OUT/pytest_cuda.log)"
grep -E "PASSED|FAILED|SKIPPED|ERROR|max \|diff\|" "$OUT/pytest_cuda.log" | sed 's/^/   /' | tee -a "$SUMMARY"
tail -n 1 "$OUT/pytest_cuda.log" | tee -a "$SUMMARY"
[ $rc -eq 0 ] || status=1

# 3. one chapter in the gpu profile, timed (300 G steps per run, 1 seed, N = 1,000)
t0=$(date +%s)
"$PY" -m gantut.cli run 02 --profile gpu -p steps=300 -p n_seeds=1 -p n_eval=1000 --out "$OUT/ch02" \
  > "$OUT/ch02.log" 2>&1
rc=$?
say "-- gantut run 02 --profile gpu -p steps=300 -p n_seeds=1 -p n_eval=1000: exit $rc in $(( $(date +%s) - t0 )) s ($OUT/ch02.log)"
tail -n 3 "$OUT/ch02.log" | sed 's/^/   /' | tee -a "$SUMMARY"
[ $rc -eq 0 ] || status=1

# optional: every chapter, gpu profile, tiny
if [ "${GPU_CHECK_ALL:-0}" = 1 ]; then
  t0=$(date +%s)
  GANTUT_SLOW=1 "$PY" -m pytest tests/test_gpu_profile.py -v -s -p no:cacheprovider > "$OUT/gpu_profile.log" 2>&1
  rc=$?
  say "-- tests/test_gpu_profile.py: exit $rc in $(( $(date +%s) - t0 )) s ($OUT/gpu_profile.log)"
  grep -E "gpu profile,|PASSED|FAILED" "$OUT/gpu_profile.log" | sed 's/^/   /' | tee -a "$SUMMARY"
  [ $rc -eq 0 ] || status=1
fi

say "== gpu_check: $([ $status -eq 0 ] && echo OK || echo FAILED) (summary: $SUMMARY)"
exit $status

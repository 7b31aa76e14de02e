#!/usr/bin/env bash
# GPU rows of the bench, in under 5 minutes on one GPU (sized for an H200; each step has its own timeout):
#   1. the tutorial's recipe, 15 epochs (StepLR), whole process, and the time its test accuracy first reached 99%
#   2. the Quick preset: a 30 s budget run (whole process must stay under ~40 s)
#   3. the fast recipe (1 epoch one-cycle): time to 99%
# Usage: SIMPLECNN_DATA=/path/holding/MNIST/raw benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for candidate in "${SIMPLECNN_DATA:-}" shared/data ../shared/data data; do
  if [[ -n "$candidate" && -d "$candidate/MNIST/raw" ]]; then export SIMPLECNN_DATA="$candidate"; break; fi
done
: "${SIMPLECNN_DATA:?no MNIST found: set SIMPLECNN_DATA to a folder holding MNIST/raw}"
PY=${PYTHON:-python3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch, sys; ok = torch.cuda.is_available(); print('torch', torch.__version__, 'cuda', ok, torch.cuda.get_device_name() if ok else ''); sys.exit(0 if ok else 1)"

run() {  # name, timeout seconds, train args...
  local name=$1 limit=$2; shift 2
  local start end
  start=$(date +%s.%N)
  if timeout "$limit" "$PY" -m simplecnn train --device cuda --json --out "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1; then
    end=$(date +%s.%N)
    "$PY" - "$name" "$start" "$end" "$OUT/$name.log" "$OUT/$name/best.pt" <<'PY'
import json, sys
import torch
name, start, end, log, ckpt = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
summary = json.loads([line for line in open(log) if line.startswith("{")][-1])
history = torch.load(ckpt, map_location="cpu", weights_only=True).get("history", {})
to99 = next((t for t, a in zip(history.get("time", []), history.get("test_accuracy", [])) if a >= 0.99), None)
ips = summary.get("train_images_per_second")
print(f"{name:<22} wall {float(end) - float(start):6.1f} s | run {summary['seconds']:6.1f} s | "
      f"best {summary['best_accuracy']:.2%} | train {ips or 0:,.0f} img/s | "
      f"99% after {'%.1f s' % to99 if to99 is not None else 'never'} (in-run clock)")
PY
  else
    echo "$name: failed or over ${limit}s — last lines:"; tail -3 "$OUT/$name.log"
  fi
}

echo "GPU rows (whole process each; 'run' is train()'s own clock):"
run tutorial-15-epochs 150 --recipe tutorial
run quick-budget-30s 60 --recipe quick
run fast-1-epoch 60 --recipe fast

#!/usr/bin/env bash
# The GPU checks of issue 16, as one script for a lent GPU machine (the device tool) or any
# CUDA box with torch, timm, numpy, scikit-learn, pyarrow and pandas (Ray is not needed:
# `lpft run` is a sweep's trial without Ray). Writes its logs under $OUT (default ./gpu-out).
#   bash bench/gpu_checks.sh            # full: ResNet-50 224 px bf16, digits trial on cuda
#   SMOKE=1 bash bench/gpu_checks.sh    # seconds, on the CPU: checks the script itself
# The packaged EfficientNet-Lite0 weights travel in .devcarry/ when the machine lacks them.
set -uo pipefail
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/.devcarry${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
PY=${PY:-python3}
if [ -n "${SMOKE:-}" ]; then
  DEV=cpu; R50="--model test_resnet --size 32 --images 128 --epochs 2"; LITE="--images 128 --epochs 2"; DIGITS="--set n_train=200 --set epochs=1"
else
  DEV=cuda; R50="--model resnet50 --size 224 --batch 64 --images 4096 --epochs 3 --amp"; LITE="--images 3000 --epochs 3 --amp"; DIGITS="--set amp=true"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
fi
$PY -c "import torch, timm, sklearn; print('torch', torch.__version__, 'timm', timm.__version__, 'sklearn', sklearn.__version__)"
echo "== 1. FT throughput, ResNet-50: lpft's loop against the plain PyTorch loop"
timeout 240 $PY bench/ft_throughput.py $R50 --device $DEV 2>&1 | tee "$OUT/ft_resnet50.txt"
echo "== 2. FT throughput, the digits benchmark's model and input (EfficientNet-Lite0, 64 px, batch 64)"
timeout 120 $PY bench/ft_throughput.py --model tf_efficientnet_lite0 --size 64 --batch 64 $LITE --device $DEV 2>&1 | tee "$OUT/ft_lite0.txt"
echo "== 3. a digits sweep's FT trial (the digits spec's settings) on $DEV, twice (the first warms up)"
for i in 1 2; do
  timeout 120 $PY -m lpft run digits --strategy ft --set device=$DEV --set bn=eval --set epochs=5 --set lr=0.003 $DIGITS 2>&1 | tee "$OUT/digits_ft_$i.txt"
done

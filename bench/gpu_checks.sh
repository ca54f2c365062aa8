#!/usr/bin/env bash
# The GPU checks of issues 16 and 28, as one script for a lent GPU machine (the device tool) or any
# CUDA box with torch, timm, numpy, scikit-learn, pyarrow and pandas (Ray is not needed:
# `lpft run` is a sweep's trial without Ray). Writes its logs under $OUT (default ./gpu-out).
#   bash bench/gpu_checks.sh            # full: ResNet-50 224 px bf16 (+ compile), digits trial on cuda,
#                                       # JPEG folder end to end, packing 1/2/4 per GPU, LP on 1M x 2,048,
#                                       # LP on the machine's CPU threads against scikit-learn
#   SMOKE=1 bash bench/gpu_checks.sh    # seconds, on the CPU: checks the script itself
# The packaged EfficientNet-Lite0 weights travel in .devcarry/ when the machine lacks them.
set -uo pipefail
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/.devcarry${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
PY=${PY:-python3}
if [ -n "${SMOKE:-}" ]; then
  DEV=cpu; R50="--model test_resnet --size 32 --images 128 --epochs 2"; LITE="--images 128 --epochs 2"; DIGITS="--set n_train=200 --set epochs=1"
  E2E="--model test_resnet --size 32 --images 64 --epochs 2 --workers 0"; PACK="--model test_resnet --size 32 --images 64 --epochs 1 --packs 1 2"
  LP="--sizes 2000x256 --num-cs 3"; LPCPU="--sizes 2000x256 --num-cs 3"; COMPILE=""
else
  DEV=cuda; R50="--model resnet50 --size 224 --batch 64 --images 4096 --epochs 3"; LITE="--images 3000 --epochs 3"; DIGITS=""
  E2E="--model resnet50 --images 4000 --epochs 3 --workers 12"; PACK="--model resnet50 --images 3072 --epochs 2 --packs 1 2 4"
  LP="--sizes 1000000x2048 --num-cs 10"; LPCPU="--sizes 100000x2048 --num-cs 10"; COMPILE=1
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
echo "== 4. ResNet-50 with torch.compile on both sides (decides the torch_compile default)"
if [ -n "$COMPILE" ]; then timeout 300 $PY bench/ft_throughput.py $R50 --compile --device $DEV 2>&1 | tee "$OUT/ft_resnet50_compile.txt"; fi
echo "== 5. FT from a JPEG folder end to end (prepared copy, loader workers) against in memory"
timeout 300 $PY bench/jpeg_end_to_end.py $E2E --device $DEV 2>&1 | tee "$OUT/jpeg_end_to_end.txt"
echo "== 6. packing: 1, 2, 4 FT trials per GPU"
timeout 300 $PY bench/gpu_packing.py $PACK --device $DEV 2>&1 | tee "$OUT/gpu_packing.txt"
echo "== 7. LP's C path on torch on the GPU"
timeout 300 $PY bench/lp_scale.py $LP --torch-only --device $DEV 2>&1 | tee "$OUT/lp_scale_gpu.txt"
echo "== 8. LP's C path on the CPU's threads against scikit-learn's one (issue 28's CPU target; this project's machine has 2 cores)"
nproc | sed 's/^/cores: /' | tee "$OUT/lp_scale_cpu.txt"
timeout 200 $PY bench/lp_scale.py $LPCPU 2>&1 | tee -a "$OUT/lp_scale_cpu.txt"

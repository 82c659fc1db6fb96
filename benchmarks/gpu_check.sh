#!/usr/bin/env bash
# GPU check: exercises every GPU path of the pipeline on this machine, each against its CPU twin, and prints one
# line per path, in under 10 minutes (each section runs under its own timeout, so one hang cannot eat the budget).
#
#   benchmarks/gpu_check.sh            # from anywhere; uses the repository's .venv (made by `make .venv/.installed`
#                                      # if missing); installs nothing else, downloads nothing
#   GPU_CHECK_KEEP=1 benchmarks/gpu_check.sh   # keep the scratch folder (renders, stores, logs) for a look;
#                                              # it is kept anyway when a line is FAIL
#
# Output lines: `PASS|FAIL|SKIP <path>: detail`, then a summary; the exit status is 1 if any line is FAIL.
#   PASS  the path ran and agrees with the CPU within the stated bound (the detail gives the numbers).
#   FAIL  it ran and disagrees, crashed, or timed out; the section's log (path printed) says more.
#   SKIP  no CUDA GPU (torch.cuda.is_available() is False): the CPU side still ran, and the comparisons ran CPU
#         against CPU, so a SKIP line also says the check itself works; a broken comparison is a FAIL even here.
# Paths:
#   render CPU                    two plates rendered with Cycles on the CPU (the reference; a re-render is identical)
#   render CUDA, render OPTIX     the same plates with render.device CUDA / OPTIX: images not black, finite, labels
#                                 exact, Cycles really on the GPU (the device is named), within 4 grey levels of CPU
#   coreset cpu                   the sequential coreset of two tiny patch stores on the CPU
#   coreset cuda (cpu features)   the rule run on CUDA from CPU features: same origins, bit-identical features
#   features cuda                 backbone features on CUDA vs CPU (max |diff| / range; TF32 convolutions widen it)
#   coreset cuda (cuda features)  the whole path on CUDA: same origins as on the CPU
#   scoring cuda (cpu|cuda features)  score_store maps on CUDA vs CPU, max |diff| / map range
#   training cpu, training cuda   defectlab.training steps of a tiny conv autoencoder; first-step loss CUDA vs CPU,
#                                 final weights load back onto the GPU
#   segmentation fcn|deeplabv3|unet  logits of one batch CUDA vs CPU; s/step and peak memory of AdamW steps at the
#                                 clutch paper's batch 16 x 1|3 x 256²
# The bounds and why they are what they are: benchmarks/gpu_check.py's docstring.
set -u
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY="$REPO/.venv/bin/python"
START=$SECONDS
BUDGET=${GPU_CHECK_BUDGET:-560}   # seconds for all sections together (under 10 minutes with the set-up)

if [ ! -x "$PY" ]; then
    echo "no .venv: making it (make .venv/.installed)" >&2
    make .venv/.installed >&2 || { echo "FAIL setup: make .venv/.installed failed"; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
RESULTS="$WORK/results.txt"
touch "$RESULTS"
KEEP=${GPU_CHECK_KEEP:-}
trap '[ -n "$KEEP" ] || rm -rf "$WORK"' EXIT
export PYTHONUNBUFFERED=1

# section NAME LIMIT_S ARGS...: run one section of gpu_check.py under a timeout (never past the overall budget)
section() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - (SECONDS - START)))
    [ "$limit" -le "$left" ] || limit=$left
    local log="$WORK/$name.log" before
    before=$(wc -l <"$RESULTS")
    if [ "$limit" -lt 10 ]; then
        echo "FAIL $name: not run, the ${BUDGET} s budget is spent" >>"$RESULTS"
    else
        timeout -k 10 "$limit" "$PY" "$REPO/benchmarks/gpu_check.py" "$@" --work "$WORK" --results "$RESULTS" \
            >"$log" 2>&1 </dev/null
        local rc=$?
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "FAIL $name: timed out after ${limit} s (log: $log)" >>"$RESULTS"
        elif [ "$rc" -ne 0 ]; then
            echo "FAIL $name: exit status $rc: $(grep -v '^\s*$' "$log" | tail -n 1 | cut -c1-300) (log: $log)" >>"$RESULTS"
        fi
    fi
    tail -n +"$((before + 1))" "$RESULTS"
}

# Asked once, here: the render sections do not import torch (a render job runs bpy without it).
GPU_CHECK_CUDA=$(timeout 120 "$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
export GPU_CHECK_CUDA

section render-cpu 50 render CPU
section render-cuda 140 render CUDA
section render-optix 140 render OPTIX
section coreset 60 coreset
section training 60 training
section segmentation 120 segmentation

pass=$(grep -c '^PASS ' "$RESULTS")
fail=$(grep -c '^FAIL ' "$RESULTS")
skip=$(grep -c '^SKIP ' "$RESULTS")
[ "$fail" -eq 0 ] || KEEP=1   # the logs named in FAIL lines stay
echo "gpu_check: $pass PASS, $fail FAIL, $skip SKIP in $((SECONDS - START)) s${KEEP:+ (scratch and logs kept: $WORK)}"
[ "$fail" -eq 0 ]

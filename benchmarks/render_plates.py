"""Seconds per rendered plate image, measured side by side in one run.

Each setting renders the same test plates (defects, water stains, a fingerprint, a sticker)
in one Blender process, image and label pass included, as a render job does, and reports the
first plate (scene built, shaders compiled) apart from the steady cost of every later plate:
  demo      the default config: 256 x 256, 16 Cycles samples
  1024      1024 x 1024, 16 samples
  1024-hq   1024 x 1024, 64 samples with adaptive sampling and denoising
The time to import bpy is printed too: with the first plate, what a process per plate would
pay again for every image, and a process per shard pays once.

    .venv/bin/python benchmarks/render_plates.py [--plates N]

The numbers are printed and written to benchmarks/results/render_plates.json.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from defectlab.synth.plan import plan_dataset

RESULTS = Path(__file__).resolve().parent / "results"
SPEC = {
    "split": "test",
    "count": 8,
    "defects": {"min": 2, "max": 3},
    "water_stains": True,
    "fingerprints": {"min": 1, "max": 1},
    "stickers": {"min": 1, "max": 1},
}
SETTINGS = {
    "demo": {"resolution": 256, "samples": 16},
    "1024": {"resolution": 1024, "samples": 16},
    "1024-hq": {"resolution": 1024, "samples": 64, "adaptive_sampling": True, "denoise": True},
}


def timings(render_cfg: dict, count: int) -> dict[str, float]:
    """Seconds for the first plate of a process (scene build included) and per later plate (mean of `count`)."""
    from defectlab.synth.plates import PlateScene

    samples = plan_dataset("bench", {**SPEC, "count": count + 1}, 1)
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        start = time.perf_counter()
        scene = PlateScene(render_cfg)
        scene.render(samples[0], tmp)
        first = time.perf_counter() - start
        start = time.perf_counter()
        for sample in samples[1:]:
            scene.render(sample, tmp)
        return {"first": first, "steady": (time.perf_counter() - start) / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=4, help="plates timed per setting after the first")
    args = parser.parse_args()
    start = time.perf_counter()
    import bpy  # noqa: F401 - timed: the start-up a process per shard pays once

    results = {"import_bpy": time.perf_counter() - start}
    for name, cfg in SETTINGS.items():
        results[name] = timings(cfg, args.plates if name == "demo" else max(args.plates // 2, 1))
    print(f"import bpy: {results['import_bpy']:.2f} s")
    for name in SETTINGS:
        first, steady = results[name]["first"], results[name]["steady"]
        print(
            f"{name:>8}: {steady:6.2f} s per image, first plate of a process {first:6.2f} s "
            f"({steady / results['demo']['steady']:.1f}x demo)"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "render_plates.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

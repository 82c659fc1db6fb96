"""Seconds per rendered plate image, measured side by side in one run.

Each setting renders the same test plates (defects, water stains, a fingerprint, a sticker)
in one Blender process, image and label pass included, as a render job does:
  demo      the default config: 256 x 256, 16 Cycles samples
  1024      1024 x 1024, 16 samples
  1024-hq   1024 x 1024, 64 samples with adaptive sampling and denoising
  rebuild   the demo setting with the scene rebuilt for every plate, against building it once
            per process (what `PlateScene` does): the cost the one-process-per-shard design saves

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


def seconds_per_image(render_cfg: dict, count: int, rebuild: bool = False) -> float:
    """Mean wall time per plate over `count` plates, after one warm-up plate (kernel and shader compilation)."""
    from defectlab.synth.plates import PlateScene

    samples = plan_dataset("bench", {**SPEC, "count": count + 1}, 1)
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        scene = PlateScene(render_cfg)
        scene.render(samples[0], tmp)
        start = time.perf_counter()
        for sample in samples[1:]:
            if rebuild:
                scene = PlateScene(render_cfg)
            scene.render(sample, tmp)
        return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=4, help="plates timed per setting")
    args = parser.parse_args()
    results = {
        name: seconds_per_image(cfg, args.plates if name == "demo" else max(args.plates // 2, 1))
        for name, cfg in SETTINGS.items()
    }
    results["demo-rebuild"] = seconds_per_image(SETTINGS["demo"], args.plates, rebuild=True)
    for name, seconds in results.items():
        print(f"{name:>13}: {seconds:6.2f} s per image   ({seconds / results['demo']:.1f}x demo)")
    print(
        f"building the scene once per process saves {1 - results['demo'] / results['demo-rebuild']:.0%} "
        f"per image at the demo setting"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "render_plates.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Seconds per rendered plate image, the settings in interleaved rounds of one run.

Each setting renders the same test plates (defects, water stains, a fingerprint, a sticker) in
a Blender process of its own that builds the scene once, image and label pass included, as a
render job does. The processes take turns, plate by plate, so a burst of load on a shared
machine hits every setting of a round alike, and the ratio to the demo setting is taken per
round. The first plate of a process (scene built, shaders compiled) is reported apart from the
steady cost of the later plates (median and min-max over the rounds):
  demo      the default config: 256 x 256, 16 Cycles samples
  1024      1024 x 1024, 16 samples
  1024-hq   1024 x 1024, 64 samples with adaptive sampling and denoising
The time to import bpy (once in each process) is printed too: with the first plate, what a
process per plate would pay again for every image, and a process per shard pays once.

    .venv/bin/python benchmarks/render_plates.py [--rounds 5] [--settings demo 1024 1024-hq]

The numbers are printed and written to benchmarks/results/render_plates.json.
"""

import argparse
import json
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from timing import Spread, interleave, load

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


def worker(connection: Connection, render_cfg: dict, count: int) -> None:
    """One setting's Blender process: sends the seconds `import bpy` took, then renders plate k on each request k."""
    start = time.perf_counter()
    import bpy  # noqa: F401 - timed: the start-up a process per shard pays once

    connection.send(time.perf_counter() - start)
    from defectlab.synth.plates import PlateScene

    samples = plan_dataset("bench", {**SPEC, "count": count}, 1)
    scene = None
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        while (index := connection.recv()) is not None:
            if scene is None:  # built with the first plate, and timed with it
                scene = PlateScene(render_cfg)
            scene.render(samples[index], tmp)
            connection.send(index)


class Setting:
    """The parent's end of one setting's Blender process; `render` has it render the next plate and waits."""

    def __init__(self, render_cfg: dict, count: int) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: bpy's import is timed from scratch
        self.connection, child = context.Pipe()
        self.process = context.Process(target=worker, args=(child, render_cfg, count), daemon=True)
        self.process.start()
        self.import_seconds = self.connection.recv()
        self.plates = 0

    def render(self) -> None:
        self.connection.send(self.plates)
        self.connection.recv()
        self.plates += 1

    def close(self) -> None:
        self.connection.send(None)
        self.process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="plates timed per setting after the first")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    if "demo" not in args.settings:
        parser.error("the settings are compared with demo: name it too")
    print(f"{args.rounds} interleaved rounds after the first plates, {load()}; median (min-max) over the rounds")
    settings = {name: Setting(SETTINGS[name], args.rounds + 1) for name in args.settings}  # started one by one
    contenders = {name: setting.render for name, setting in settings.items()}
    first = interleave(contenders, 1).seconds
    steady = interleave(contenders, args.rounds)
    for setting in settings.values():
        setting.close()

    imports = Spread.of([setting.import_seconds for setting in settings.values()])
    results: dict = {
        "rounds": args.rounds,
        "import_bpy": imports.median,
        "import_bpy_processes": [setting.import_seconds for setting in settings.values()],
    }
    print(f"import bpy: {imports.text('.2f')} s (one in each of the {len(settings)} processes)")
    for name in settings:
        seconds, to_demo = Spread.of(steady.seconds[name]), Spread.of(steady.ratio(name, "demo"))
        results[name] = {"first": first[name][0], **seconds.columns("steady"), "steady_rounds": steady.seconds[name]}
        results[name] |= to_demo.columns("to_demo")
        print(
            f"{name:>8}: {seconds.text('.2f'):>20} s per image, first plate of a process {first[name][0]:6.2f} s, "
            f"{to_demo.text('.1f')}x demo per round"
        )
    print(load())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "render_plates.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

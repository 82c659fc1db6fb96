"""Seconds per rendered clutch view at each configured size, the sizes in interleaved rounds of one run.

Each setting renders views of the same defective object in a Blender process of its own that builds the object's
scene once (part, carved defects, materials: timed apart), then renders one view per request, image and label
pass included, as a render job does. The processes take turns, view by view, so a burst of load on a shared
machine hits every setting of a round alike, and the ratio to the laptop size is taken per round:
  small     153 x 128, 16 Cycles samples (the tests' order of size)
  laptop    306 x 256, 16 samples (config/clutch-small.yaml)
  612       612 x 512, 16 samples
Dividing by pixels x samples gives the cost of one pixel sample; the paper's full size (2448 x 2050 at 64
samples, config/clutch.yaml) is extrapolated from it, as it takes tens of minutes a view on 2 cores.

    .venv/bin/python benchmarks/render_clutch.py [--rounds 3] [--settings small laptop 612]

The numbers are printed and written to benchmarks/results/render_clutch.json.
"""

import argparse
import json
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from timing import Spread, interleave, load

from defectlab.synth.clutch_plan import plan_object

RESULTS = Path(__file__).resolve().parent / "results"
SPEC = {"generator": "clutch", "split": "test", "count": 1, "defective": 1, "views": {"examined": 12, "extra": 4}}
SETTINGS = {"small": ((153, 128), 16), "laptop": ((306, 256), 16), "612": ((612, 512), 16)}
FULL = ((2448, 2050), 64)


def worker(connection: Connection, resolution: tuple[int, int], samples: int) -> None:
    """One setting's Blender process: builds the scene (sends its seconds), then renders view k on each request k."""
    from defectlab.synth.clutch import ClutchScene

    spec = {**SPEC, "camera": {"resolution": list(resolution)}}
    clutch = plan_object("bench", spec, 1, 0)
    start = time.perf_counter()
    scene = ClutchScene(clutch, spec, {"samples": samples, "threads": 2})
    connection.send(time.perf_counter() - start)
    with tempfile.TemporaryDirectory(prefix="clutch-bench-") as tmp:
        while (index := connection.recv()) is not None:
            scene.render_view(clutch.views[index % len(clutch.views)], Path(tmp))
            connection.send(index)


class Setting:
    """The parent's end of one setting's Blender process; `render` has it render the next view and waits."""

    def __init__(self, resolution: tuple[int, int], samples: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=worker, args=(child, resolution, samples), daemon=True)
        self.process.start()
        self.build_seconds = self.connection.recv()
        self.views = 0

    def render(self) -> None:
        self.connection.send(self.views)
        self.connection.recv()
        self.views += 1

    def close(self) -> None:
        self.connection.send(None)
        self.process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="views timed per setting after the first")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    if "laptop" not in args.settings:
        parser.error("the settings are compared with laptop: name it too")
    print(f"{args.rounds} interleaved rounds after the first views, {load()}; median (min-max) over the rounds")
    settings = {name: Setting(*SETTINGS[name]) for name in args.settings}
    contenders = {name: setting.render for name, setting in settings.items()}
    first = interleave(contenders, 1).seconds
    steady = interleave(contenders, args.rounds)
    for setting in settings.values():
        setting.close()
    results: dict = {"rounds": args.rounds}
    per_sample = []
    for name, setting in settings.items():
        (width, height), samples = SETTINGS[name]
        seconds, to_laptop = Spread.of(steady.seconds[name]), Spread.of(steady.ratio(name, "laptop"))
        microseconds = seconds.median / (width * height * samples) * 1e6
        per_sample.append(microseconds)
        results[name] = {"build": setting.build_seconds, "first": first[name][0], **seconds.columns("steady")}
        results[name] |= to_laptop.columns("to_laptop") | {"us_per_pixel_sample": microseconds}
        print(
            f"{name:>7} {width} x {height} @ {samples}: {seconds.text('.2f'):>20} s per view "
            f"({microseconds:.2f} us per pixel sample), {to_laptop.text('.2f')}x laptop per round; "
            f"scene built in {setting.build_seconds:.1f} s, first view {first[name][0]:.2f} s"
        )
    (width, height), samples = FULL
    full = min(per_sample) * width * height * samples / 1e6
    results["full_extrapolated"] = full
    print(f"full size {width} x {height} @ {samples}: about {full / 60:.0f} min per view here (extrapolated)")
    print(load())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "render_clutch.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

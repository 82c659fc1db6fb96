"""The dataset generators: what the start-up checks ask each one before any job runs.

A generator plans its samples from the config alone (no rendering), so a bad key or an impossible
combination fails at parse time, and the checks can count its images and ask whether it can hold a
defect. A new generator adds an entry here, a schema block (`$defs/generators/<name>`) and a rule file.
"""

from collections.abc import Callable
from dataclasses import dataclass

from defectlab.synth import boards, clutch_plan, procedural
from defectlab.synth.plan import plan_sample, views


@dataclass(frozen=True)
class Generator:
    plan: Callable[[str, dict, int, int], object]  # (dataset, resolved spec, seed, i) -> sample i; raises ValueError
    images: Callable[[dict], int]  # images of a resolved spec
    max_defects: Callable[[dict], int]  # defects one sample can hold at most
    min_defects: Callable[[dict], int]  # defects every sample holds at least
    defects: Callable[[object], int]  # defects of a planned sample


PLATES = Generator(
    plan=plan_sample,
    images=lambda spec: spec["count"] * len(views(spec.get("camera", {}))),
    max_defects=lambda spec: spec.get("defects", {}).get("max", 0),
    min_defects=lambda spec: spec.get("defects", {}).get("min", 0),
    defects=lambda sample: len(sample.defects),
)


def _procedural(plan: Callable[[str, dict, int, int], object]) -> Generator:
    """chess and noise (defectlab.synth.procedural): one image per sample; an `anomaly` gives each its regions."""
    return Generator(
        plan=plan,
        images=lambda spec: spec["count"],
        max_defects=procedural.regions_of,
        min_defects=procedural.regions_of,
        defects=lambda sample: sample.defects,
    )


BOARDS = Generator(
    plan=boards.plan_board,
    images=lambda spec: spec["count"],
    max_defects=lambda spec: boards.settings_of(spec)["anomalies"]["max"],
    min_defects=lambda spec: boards.settings_of(spec)["anomalies"]["min"],
    defects=lambda sample: len(sample.anomalies),
)

CLUTCH = Generator(
    plan=clutch_plan.plan_object,
    images=clutch_plan.images_of,
    max_defects=lambda spec: clutch_plan.defect_bounds(spec)[1],
    min_defects=lambda spec: clutch_plan.defect_bounds(spec)[0],
    defects=lambda clutch: len(clutch.defects),
)

GENERATORS: dict[str, Generator] = {
    "plates": PLATES,
    "chess": _procedural(procedural.plan_chess),
    "noise": _procedural(procedural.plan_noise),
    "boards": BOARDS,
    "clutch": CLUTCH,
}


def can_hold_defects(generator: Generator, name: str, spec: dict, seed: int, planned: int) -> bool:
    """Whether a dataset holds a defect: by its settings, else by planning its first `planned` samples
    (a larger dataset that may hold defects is assumed to)."""
    if generator.max_defects(spec) == 0:
        return False
    if generator.min_defects(spec) > 0 or spec["count"] > planned:
        return True
    return any(generator.defects(generator.plan(name, spec, seed, i)) for i in range(spec["count"]))

"""Sequential PatchCore against what it replaces, measured side by side in one run.

Parts (all by default, or name some with --parts):
  throughput  `update` on a converged coreset against the bare nearest-neighbour search of the same
              batch (one matrix product and a row minimum), the speed limit of any exact rule
  memory      peak memory and time against the number of training features N, sequential (one epoch)
              against the greedy k-center baseline (all features in memory); each run in its own process
  quality     coverage radius and test metrics on the demo data, sequential against greedy at the same M
              (needs the default run's results/: `make run`)
  meld        K shard coresets built apart and melded, against one coreset from all the features

    .venv/bin/python benchmarks/sequential_patchcore.py [--parts throughput memory quality meld] [--quick]
        [--rounds 5] [--threads N]

The contenders of a part run in interleaved rounds (benchmarks/timing.py) with float32 matrix products
(benchmarks/sgemm.py), the machine's limit while they ran: medians and min-max over the rounds are printed,
ratios are taken per round. On a machine other processes load, `--threads 1`: with more, torch's threads
wait for each other, at every small operation, on a core another process holds. Numbers are printed and
written to benchmarks/results/ (the samples of every round to *_rounds.csv), figures to benchmarks/figures/.
"""

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sgemm import machine, sgemm_limits  # noqa: E402
from timing import Rounds, Spread, divide, interleave, load  # noqa: E402

from defectlab.patchcore import SequentialCoreset, coverage_radius, greedy_coreset, meld  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIGURES = HERE / "figures"
RESULTS = HERE / "results"
DIM = 152  # features of the default backbone (EfficientNet-Lite0 stages 2 + 3)
BATCH = 4096
GIB = 1 << 30


def feature_batches(rows: int, dim: int, seed: int, batch: int = BATCH):
    """A stream like patch features (Gaussian clusters of unequal spread), made batch by batch, never whole."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(64, dim, generator=generator) * 4
    spread = torch.rand(64, 1, generator=generator) + 0.2
    for index, start in enumerate(range(0, rows, batch)):
        g = torch.Generator().manual_seed(seed * 100_003 + index)
        count = min(batch, rows - start)
        labels = torch.randint(0, 64, (count,), generator=g)
        yield centres[labels] + torch.randn(count, dim, generator=g) * spread[labels]


def features(rows: int, dim: int, seed: int) -> torch.Tensor:
    return torch.cat(list(feature_batches(rows, dim, seed)))


def converge(stream: torch.Tensor, size: int, max_epochs: int) -> tuple[SequentialCoreset, list[int]]:
    coreset, history = SequentialCoreset(size), []
    for _ in range(max_epochs):
        history.append(sum(coreset.update(stream[i : i + BATCH]) for i in range(0, len(stream), BATCH)))
        if history[-1] == 0:
            break
    return coreset, history


def search_all(batches: list[torch.Tensor], search: Callable[[torch.Tensor], object]) -> None:
    """Run a nearest-neighbour search on every batch, keeping nothing: a contender of the throughput part."""
    for batch in batches:
        search(batch)


def show(table: pd.DataFrame, key: str, columns: dict[str, tuple[str, str]]) -> None:
    """Print `table` by `key`: each heading maps to (column, format), with the column's min-max when it has one."""

    def cell(row: pd.Series, column: str, spec: str) -> str:
        if pd.isna(row[column]):
            return "-"
        if f"{column}_min" in row:
            return Spread(row[column], row[f"{column}_min"], row[f"{column}_max"]).text(spec)
        return f"{row[column]:{spec}}"

    cells = {key: table[key]} | {
        heading: [cell(row, column, spec) for _, row in table.iterrows()] for heading, (column, spec) in columns.items()
    }
    print(pd.DataFrame(cells).to_string(index=False))


def limit_rates(timed: Rounds, limits: dict[str, tuple[Callable[[], None], float]]) -> str:
    """The sgemm rates of the rounds, median (min-max) GFLOP/s, as one line."""
    return "; ".join(
        f"{name}: {Spread.of(timed.rate(name, flops / 1e9)).text('.1f')} GFLOP/s" for name, (_, flops) in limits.items()
    )


def throughput(quick: bool, rounds: int) -> None:
    size, rows = (1024, 30_000) if quick else (2048, 100_000)
    stream = features(rows, DIM, seed=1)
    coreset, history = converge(stream, size, max_epochs=12)
    points = coreset.features
    norms2 = points.square().sum(1)
    batches = [stream[i : i + BATCH] for i in range(0, rows, BATCH)]
    gflop = 2 * rows * size * DIM / 1e9  # each search and the screen of `update`: one (B, D) x (D, M) product
    limits = sgemm_limits(len(batches), BATCH, DIM, size)  # that product, as often: the same flops
    shaped, square = limits
    update, addmm, cdist = "sequential update", "bare search: addmm + min", "bare search: cdist + min"
    contenders = {
        update: lambda: sum(coreset.update(b) for b in batches),
        addmm: partial(search_all, batches, lambda b: torch.addmm(norms2, b, points.T, alpha=-2).min(1)),
        cdist: partial(search_all, batches, lambda b: torch.cdist(b, points).min(1)),
        **{name: work for name, (work, _) in limits.items()},
    }
    print(f"\n## throughput: M={size}, D={DIM}, batch {BATCH}, {rows} rows; training epochs: {history}")
    print(f"{rounds} interleaved rounds after a warm-up, {load()}; median (min-max) over the rounds, ratios per round")
    timed = interleave(contenders, rounds, warmup=True)
    shaped_rate = timed.rate(shaped, limits[shaped][1] / 1e9)
    square_rate = timed.rate(square, limits[square][1] / 1e9)
    table = []
    for name in contenders:
        work = limits[name][1] / 1e9 if name in limits else gflop
        rate = timed.rate(name, work)
        seconds = Spread.of(timed.seconds[name])
        table.append(
            {
                "method": name,
                **seconds.columns("seconds"),
                "rows_per_s": np.nan if name in limits else rows / seconds.median,
                **Spread.of(rate).columns("gflops"),
                **Spread.of(divide(rate, shaped_rate)).columns("of_sgemm"),
                **Spread.of(divide(rate, square_rate)).columns("of_sgemm_square"),
            }
        )
    table = pd.DataFrame(table)
    show(
        table,
        "method",
        {
            "seconds": ("seconds", ".3f"),
            "rows/s": ("rows_per_s", ".0f"),
            "GFLOP/s": ("gflops", ".1f"),
            "of sgemm, same shape": ("of_sgemm", ".2f"),
            "of sgemm 2048^3": ("of_sgemm_square", ".2f"),
        },
    )
    bare = [min(a, c) for a, c in zip(timed.seconds[addmm], timed.seconds[cdist], strict=True)]
    print(f"replacements while timing: {timed.values[update]}; {load()}")
    fastest = Spread.of(divide(bare, timed.seconds[update]))
    print(
        f"update / fastest bare search throughput, per round: {fastest.text('.2f')}"
        f"; update / addmm search: {Spread.of(timed.ratio(addmm, update)).text('.2f')}"
    )
    table.to_csv(RESULTS / "throughput.csv", index=False)
    pd.DataFrame(timed.records()).to_csv(RESULTS / "throughput_rounds.csv", index=False)


def memory_kib(field: str) -> int:
    """A field of /proc/self/status (VmRSS: resident now, VmHWM: peak resident since the last reset), KiB."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field + ":")))


def child(method: str, rows: int, size: int) -> None:
    """One measured run, in a process of its own: peak resident memory above the process after its imports.

    Writing 5 to /proc/self/clear_refs resets the peak (Linux >= 4.0), so the transient peak of
    importing torch does not hide what the run itself holds.
    """
    Path("/proc/self/clear_refs").write_text("5")
    before = memory_kib("VmRSS")
    start = time.perf_counter()
    if method == "sequential":
        coreset = SequentialCoreset(size)
        for batch in feature_batches(rows, DIM, seed=2):
            coreset.update(batch)
    else:
        stream = features(rows, DIM, seed=2)
        greedy_coreset(stream, size)
    seconds = time.perf_counter() - start
    extra = (memory_kib("VmHWM") - before) * 1024
    print(json.dumps({"method": method, "rows": rows, "seconds": seconds, "extra_bytes": extra}))


def run_child(method: str, rows: int, size: int) -> dict:
    """`child` in a new process, at this process's torch thread count."""
    command = [sys.executable, __file__, "--child", method, str(rows), str(size), str(torch.get_num_threads())]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory(quick: bool, rounds: int) -> None:
    size = 512 if quick else 2048
    sizes = [10_000, 30_000, 100_000] if quick else [10_000, 30_000, 100_000, 300_000, 1_000_000]
    few = min(rounds, 2)  # greedy at N = 10^6 takes minutes a run
    limits = sgemm_limits(10)
    print(f"\n## memory: M={size}, D={DIM}; peak resident memory of the run (above the process after its imports)")
    print(
        f"per N, interleaved rounds of sequential, greedy and sgemm: {rounds} rounds, N >= 10^6 in {few}; "
        f"median (min-max) over the rounds; {load()}"
    )
    table, runs = [], []
    for n in sizes:
        count = few if n >= 1_000_000 else rounds
        contenders = {method: partial(run_child, method, n, size) for method in ("sequential", "greedy")}
        timed = interleave(contenders | {name: work for name, (work, _) in limits.items()}, count)
        seconds = {method: [run["seconds"] for run in timed.values[method]] for method in contenders}
        for method in contenders:
            runs += [run | {"round": i} for i, run in enumerate(timed.values[method])]
            extra = Spread.of([run["extra_bytes"] for run in timed.values[method]])
            table.append(
                {"method": method, "rows": n, "rounds": count}
                | Spread.of(seconds[method]).columns("seconds")
                | extra.columns("extra_bytes")
            )
            mib = Spread(extra.median / 2**20, extra.low / 2**20, extra.high / 2**20)
            print(f"{method:<11}N={n:>9,}  {Spread.of(seconds[method]).text('.1f'):>20} s  {mib.text('.1f'):>24} MiB")
        ratio = Spread.of(divide(seconds["greedy"], seconds["sequential"]))
        print(f"{'':11}greedy / sequential seconds per round {ratio.text('.2f')}; {limit_rates(timed, limits)}")
    table = pd.DataFrame(table)
    table.to_csv(RESULTS / "memory.csv", index=False)
    pd.DataFrame(runs).to_csv(RESULTS / "memory_rounds.csv", index=False)
    greedy = table[table["method"] == "greedy"]
    per_row = np.polyfit(greedy["rows"], greedy["extra_bytes"], 1)[0]
    fit = 24 * GIB
    print(
        f"greedy holds {per_row:.0f} bytes per training feature (D={DIM} float32: {4 * DIM} bytes): it stops fitting "
        f"in 24 GiB at N = {fit / per_row:.2e} features; with WideResNet-50's 1536-dim features at "
        f"N = {fit / (per_row * 1536 / DIM):.2e}"
    )
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for method, part in table.groupby("method", sort=False):
        for axis, column, scale in ((left, "extra_bytes", 2**20), (right, "seconds", 1)):
            median = part[column] / scale
            spread = [median - part[f"{column}_min"] / scale, part[f"{column}_max"] / scale - median]
            axis.errorbar(part["rows"], median, yerr=spread, marker="o", capsize=3, label=method)
    left.set(xscale="log", yscale="log", xlabel="training features N", ylabel="peak memory of the run [MiB]")
    right.set(xscale="log", yscale="log", xlabel="training features N", ylabel="seconds (sequential: one epoch)")
    left.legend()
    figure.suptitle(f"Coreset of M = {size} from N features of dimension {DIM} (median, min-max of the rounds)")
    figure.savefig(FIGURES / "memory.png", dpi=110)


def quality(quick: bool, rounds: int) -> None:
    import yaml
    from snakemake.utils import validate

    from defectlab.data.layout import load_sample
    from defectlab.metrics.evaluation import SplitMaps, evaluate_split, fit_split_threshold
    from defectlab.patchcore.inference import score_store
    from defectlab.patchcore.settings import extractor_from_config
    from defectlab.patchcore.training import stream

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate(config, str(REPO / "config/schema/config.schema.yaml"))
    experiment = next(iter(config["experiments"].values()))
    stores = {
        name: sorted((REPO / "results/patches" / name).glob("shard-*.h5"))
        for name in [*experiment["train"], experiment["val"], experiment["test"]]
    }
    missing = [name for name, found in stores.items() if not found]
    if missing:
        print(
            f"\n## quality: skipped, no patch stores of {', '.join(missing)} under {REPO / 'results/patches'}; "
            "this part needs the default run's results/: run `make run` first"
        )
        return
    torch.manual_seed(0)
    extractor = extractor_from_config(config["backbone"], "cpu")
    train = [store for name in experiment["train"] for store in stores[name]]
    rows = torch.cat([batch for batch, _ in stream(extractor, train, config["coreset"]["batch_size"])])
    size, scoring = config["coreset"]["size"], config["scoring"]
    print(f"\n## quality: M={size}, {len(rows)} training features of the demo plates (D={rows.shape[1]})")

    limits = sgemm_limits(10)
    contenders = {
        "sequential": partial(converge, rows, size, max_epochs=3 if quick else 20),
        "greedy": partial(greedy_coreset, rows, size, seed=config["seed"]),
    }
    timed = interleave(contenders | {name: work for name, (work, _) in limits.items()}, rounds)
    sequential, history = timed.values["sequential"][-1]
    greedy = rows[timed.values["greedy"][-1]]
    print(
        f"sequential epochs: {history}; build seconds over {rounds} interleaved rounds, median (min-max): "
        f"sequential {Spread.of(timed.seconds['sequential']).text('.1f')}, "
        f"greedy {Spread.of(timed.seconds['greedy']).text('.1f')}, "
        f"greedy / sequential per round {Spread.of(timed.ratio('greedy', 'sequential')).text('.2f')}; "
        f"{limit_rates(timed, limits)}"
    )

    def split(name: str, coreset: torch.Tensor) -> SplitMaps:
        ids, maps = [], []
        for store in stores[name]:
            i, m, _ = score_store(
                extractor, store, coreset, scoring["chunk_size"], scoring["batch_size"], scoring["sigma"]
            )
            ids += i
            maps.append(m)
        samples = [load_sample(REPO / "results/datasets" / name, i) for i in ids]
        masks = np.stack([s.mask for s in samples])
        return SplitMaps(ids, np.concatenate(maps), masks, np.stack([s.instances for s in samples]))

    results = []
    for method, coreset in (("sequential", sequential.features), ("greedy", greedy)):
        threshold = fit_split_threshold(split(experiment["val"], coreset))
        metrics = evaluate_split(split(experiment["test"], coreset), threshold)
        pick = metrics[metrics["min_coverage"].isna()].set_index(["metric", "class"])["value"]
        results.append(
            {
                "method": method,
                **Spread.of(timed.seconds[method]).columns("build_seconds"),
                "coverage_radius": coverage_radius(rows, coreset),
                "min_pairwise_distance": float(torch.pdist(coreset.double()).min()),
                "pixel_auroc": pick[("pixel_auroc", "defect")],
                "image_auroc": pick[("image_auroc", "defect")],
                "pixel_f1": pick[("pixel_f1", "defect")],
                "mean_defect_wise_recall": pick[("defect_wise_recall", "mean")],
            }
        )
    table = pd.DataFrame(results)
    print(table.to_string(index=False, float_format="%.4f"))
    table.to_csv(RESULTS / "quality.csv", index=False)


def shard_and_meld(stream: torch.Tensor, shards: int, size: int) -> dict:
    """K shard coresets trained to convergence one after another, then melded; the seconds of each step."""
    parts, times = [], []
    for part in torch.chunk(stream, shards):
        start = time.perf_counter()
        parts.append(converge(part, size, max_epochs=20)[0])
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    melded = meld(parts, size, max_epochs=20) if shards > 1 else parts[0]
    return {"coreset": melded, "shard_seconds": times, "meld_seconds": time.perf_counter() - start}


def melding(quick: bool, rounds: int) -> None:
    size, rows = (512, 40_000) if quick else (1024, 160_000)
    stream = features(rows, DIM, seed=3)
    limits = sgemm_limits(10)
    print(f"\n## meld: {rows} features, M={size}; K shards built apart (epochs to convergence), then melded")
    print(
        f"{rounds} interleaved rounds of K = 1, 2, 4, 8, greedy and sgemm, {load()}; median (min-max) over the rounds"
    )
    contenders = {f"K={shards}": partial(shard_and_meld, stream, shards, size) for shards in (1, 2, 4, 8)}
    contenders["greedy"] = partial(greedy_coreset, stream, size)
    timed = interleave(contenders | {name: work for name, (work, _) in limits.items()}, rounds)
    one = [sum(run["shard_seconds"]) for run in timed.values["K=1"]]  # one coreset from all the features
    results = []
    for name in contenders:
        if name == "greedy":
            continue
        runs = timed.values[name]
        melded = runs[-1]["coreset"]
        assert all(torch.equal(run["coreset"].features, melded.features) for run in runs), "rounds differ"
        walls = [max(run["shard_seconds"]) + run["meld_seconds"] for run in runs]
        results.append(
            {"shards": len(runs[-1]["shard_seconds"])}
            | Spread.of([sum(run["shard_seconds"]) for run in runs]).columns("shard_seconds_sum")
            | Spread.of(walls).columns("wall_seconds_parallel")
            | Spread.of([run["meld_seconds"] for run in runs]).columns("meld_seconds")
            | Spread.of(divide(one, walls)).columns("speedup_parallel")
            | {"coverage_radius": coverage_radius(stream, melded.features), "min_distance": melded.min_distance}
        )
    greedy = coverage_radius(stream, stream[timed.values["greedy"][-1]])
    table = pd.DataFrame(results)
    show(
        table,
        "shards",
        {
            "coverage radius": ("coverage_radius", ".3f"),
            "d_m": ("min_distance", ".3f"),
            "shards one after another [s]": ("shard_seconds_sum", ".1f"),
            "in parallel, then meld [s]": ("wall_seconds_parallel", ".1f"),
            "meld alone [s]": ("meld_seconds", ".2f"),
            "speed-up of parallel": ("speedup_parallel", ".2f"),
        },
    )
    seconds = timed.seconds["greedy"]
    print(
        f"greedy k-center over all features: coverage radius {greedy:.3f}, selection {Spread.of(seconds).text('.1f')} s"
        f", {Spread.of(divide(seconds, one)).text('.2f')} x one coreset per round"
    )
    print(f"{limit_rates(timed, limits)}; {load()}")
    table.to_csv(RESULTS / "meld.csv", index=False)
    pd.DataFrame(timed.records()).to_csv(RESULTS / "meld_rounds.csv", index=False)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    left.plot(table["shards"], table["coverage_radius"], marker="o", label="coverage radius")
    left.plot(table["shards"], table["min_distance"], marker="o", label="d_m")
    left.axhline(greedy, color="grey", linestyle="--", label="greedy k-center, coverage radius")
    left.set(xscale="log", xlabel="shards K (1: one coreset from all features)", ylabel="distance")
    left.set_xticks(table["shards"], table["shards"])
    left.minorticks_off()
    left.legend()
    for column, label in (
        ("shard_seconds_sum", "all shards, one after another"),
        ("wall_seconds_parallel", "shards in parallel, then meld"),
    ):
        spread = [table[column] - table[f"{column}_min"], table[f"{column}_max"] - table[column]]
        right.errorbar(table["shards"], table[column], yerr=spread, marker="o", capsize=3, label=label)
    right.set(xscale="log", xlabel="shards K", ylabel="seconds (median, min-max of the rounds)")
    right.set_xticks(table["shards"], table["shards"])
    right.minorticks_off()
    right.legend(fontsize=8)
    figure.suptitle(f"Melding K shard coresets of M = {size} ({rows} features)")
    figure.savefig(FIGURES / "meld.png", dpi=110)


PARTS = {"throughput": throughput, "memory": memory, "quality": quality, "meld": melding}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        torch.set_num_threads(int(sys.argv[5]))
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a check in a few minutes")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of each part's contenders")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    FIGURES.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    print(machine())
    for part in args.parts:
        PARTS[part](args.quick, args.rounds)


if __name__ == "__main__":
    main()

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

Numbers are printed and written to benchmarks/results/, figures to benchmarks/figures/.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

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


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(quick: bool) -> None:
    size, rows = (1024, 30_000) if quick else (2048, 100_000)
    stream = features(rows, DIM, seed=1)
    coreset, history = converge(stream, size, max_epochs=12)
    points = coreset.features
    norms2 = points.square().sum(1)
    batches = [stream[i : i + BATCH] for i in range(0, rows, BATCH)]
    print(f"\n## throughput: M={size}, D={DIM}, batch {BATCH}, {rows} rows; training epochs: {history}")
    replaced = []
    t_update = best_of(3, lambda: replaced.append(sum(coreset.update(b) for b in batches)))
    t_matmul = best_of(3, lambda: [torch.addmm(norms2, b, points.T, alpha=-2).min(1) for b in batches])
    t_cdist = best_of(3, lambda: [torch.cdist(b, points).min(1) for b in batches])
    bare = min(t_matmul, t_cdist)
    table = pd.DataFrame(
        {
            "method": ["sequential update", "bare search: addmm + min", "bare search: cdist + min"],
            "seconds": [t_update, t_matmul, t_cdist],
            "rows_per_s": [rows / t_update, rows / t_matmul, rows / t_cdist],
        }
    )
    print(table.to_string(index=False, float_format="%.3f"))
    print(f"replacements while timing: {replaced}; update / fastest bare search throughput: {bare / t_update:.2f}")
    table.to_csv(RESULTS / "throughput.csv", index=False)


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
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, str(rows), str(size)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory(quick: bool) -> None:
    size = 512 if quick else 2048
    sizes = [10_000, 30_000, 100_000] if quick else [10_000, 30_000, 100_000, 300_000, 1_000_000]
    print(f"\n## memory: M={size}, D={DIM}; peak resident memory of the run (above the process after its imports)")
    rows = []
    for n in sizes:
        for method in ("sequential", "greedy"):
            result = run_child(method, n, size)
            rows.append(result)
            print(f"{method:<11}N={n:>9,}  {result['seconds']:8.1f} s  {result['extra_bytes'] / 2**20:9.1f} MiB")
    table = pd.DataFrame(rows)
    table.to_csv(RESULTS / "memory.csv", index=False)
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
        left.plot(part["rows"], part["extra_bytes"] / 2**20, marker="o", label=method)
        right.plot(part["rows"], part["seconds"], marker="o", label=method)
    left.set(xscale="log", yscale="log", xlabel="training features N", ylabel="peak memory of the run [MiB]")
    right.set(xscale="log", yscale="log", xlabel="training features N", ylabel="seconds (sequential: one epoch)")
    left.legend()
    figure.suptitle(f"Coreset of M = {size} from N features of dimension {DIM}")
    figure.savefig(FIGURES / "memory.png", dpi=110)


def quality(quick: bool) -> None:
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
    if not all(stores.values()):
        raise SystemExit("quality: no patch stores under results/patches; run `make run` first")
    torch.manual_seed(0)
    extractor = extractor_from_config(config["backbone"], "cpu")
    train = [store for name in experiment["train"] for store in stores[name]]
    rows = torch.cat([batch for batch, _ in stream(extractor, train, config["coreset"]["batch_size"])])
    size, scoring = config["coreset"]["size"], config["scoring"]
    print(f"\n## quality: M={size}, {len(rows)} training features of the demo plates (D={rows.shape[1]})")

    start = time.perf_counter()
    sequential, history = converge(rows, size, max_epochs=3 if quick else 20)
    t_sequential = time.perf_counter() - start
    start = time.perf_counter()
    greedy = rows[greedy_coreset(rows, size, seed=config["seed"])]
    t_greedy = time.perf_counter() - start
    print(f"sequential epochs: {history}")

    def split(name: str, coreset: torch.Tensor) -> SplitMaps:
        ids, maps = [], []
        for store in stores[name]:
            i, m = score_store(
                extractor, store, coreset, scoring["chunk_size"], scoring["batch_size"], scoring["sigma"]
            )
            ids += i
            maps.append(m)
        samples = [load_sample(REPO / "results/datasets" / name, i) for i in ids]
        masks = np.stack([s.mask for s in samples])
        return SplitMaps(ids, np.concatenate(maps), masks, np.stack([s.instances for s in samples]))

    results = []
    for method, coreset, seconds in (("sequential", sequential.features, t_sequential), ("greedy", greedy, t_greedy)):
        threshold = fit_split_threshold(split(experiment["val"], coreset))
        metrics = evaluate_split(split(experiment["test"], coreset), threshold)
        pick = metrics[metrics["min_coverage"].isna()].set_index(["metric", "class"])["value"]
        results.append(
            {
                "method": method,
                "build_seconds": seconds,
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


def melding(quick: bool) -> None:
    size, rows = (512, 40_000) if quick else (1024, 160_000)
    stream = features(rows, DIM, seed=3)
    print(f"\n## meld: {rows} features, M={size}; K shards built apart (epochs to convergence), then melded")
    results = []
    for shards in (1, 2, 4, 8):
        parts, times = [], []
        for part in torch.chunk(stream, shards):
            start = time.perf_counter()
            parts.append(converge(part, size, max_epochs=20)[0])
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        melded = meld(parts, size, max_epochs=20) if shards > 1 else parts[0]
        t_meld = time.perf_counter() - start
        results.append(
            {
                "shards": shards,
                "shard_seconds_sum": sum(times),
                "wall_seconds_parallel": max(times) + t_meld,
                "meld_seconds": t_meld,
                "coverage_radius": coverage_radius(stream, melded.features),
                "min_distance": melded.min_distance,
            }
        )
    start = time.perf_counter()
    greedy = coverage_radius(stream, stream[greedy_coreset(stream, size)])
    t_greedy = time.perf_counter() - start
    table = pd.DataFrame(results)
    print(table.to_string(index=False, float_format="%.3f"))
    print(f"greedy k-center over all features: coverage radius {greedy:.3f} in {t_greedy:.1f} s")
    table.to_csv(RESULTS / "meld.csv", index=False)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    left.plot(table["shards"], table["coverage_radius"], marker="o", label="coverage radius")
    left.plot(table["shards"], table["min_distance"], marker="o", label="d_m")
    left.axhline(greedy, color="grey", linestyle="--", label="greedy k-center, coverage radius")
    left.set(xscale="log", xlabel="shards K (1: one coreset from all features)", ylabel="distance")
    left.set_xticks(table["shards"], table["shards"])
    left.minorticks_off()
    left.legend()
    right.plot(table["shards"], table["shard_seconds_sum"], marker="o", label="all shards, one after another")
    right.plot(table["shards"], table["wall_seconds_parallel"], marker="o", label="shards in parallel, then meld")
    right.set(xscale="log", xlabel="shards K", ylabel="seconds")
    right.set_xticks(table["shards"], table["shards"])
    right.minorticks_off()
    right.legend(fontsize=8)
    figure.suptitle(f"Melding K shard coresets of M = {size} ({rows} features)")
    figure.savefig(FIGURES / "meld.png", dpi=110)


PARTS = {"throughput": throughput, "memory": memory, "quality": quality, "meld": melding}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a check in a minute or two")
    args = parser.parse_args()
    FIGURES.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for part in args.parts:
        PARTS[part](args.quick)


if __name__ == "__main__":
    main()

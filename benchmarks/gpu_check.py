"""The sections of benchmarks/gpu_check.sh: each exercises one GPU path of the pipeline against its CPU twin and
appends `PASS|FAIL|SKIP <path>: detail` lines to a results file (the shell script prints them).

    .venv/bin/python benchmarks/gpu_check.py render CPU|CUDA|OPTIX --work DIR --results FILE
    .venv/bin/python benchmarks/gpu_check.py coreset --work DIR --results FILE
    .venv/bin/python benchmarks/gpu_check.py training --work DIR --results FILE
    .venv/bin/python benchmarks/gpu_check.py segmentation --work DIR --results FILE

Without CUDA (torch.cuda.is_available() False) the CUDA sides are SKIPped, but the CPU side still runs and the
comparisons run CPU against CPU, so the checking code itself is exercised: such a line says SKIP when the
comparison held and FAIL when it did not (a bug in the pipeline or in this script, not a GPU problem).

Bounds (relative: max |a - b| / (max - min) of the CPU values):
- render: GPU images within 4 grey levels mean |diff| of the CPU render of the same plates, >= 99 % of mask
  pixels equal; a CPU re-render is identical.
- coreset, CPU features: the sequential rule takes its decisions on exact float64 distances, so a coreset built
  on CUDA from the same features has the same origins and bit-identical features.
- features, maps, segmentation logits and training losses on CUDA: 1e-3 where float32 convolutions run at IEEE
  precision, 1e-2 where cuDNN runs them in TF32 (torch's default, torch.backends.cudnn.conv.fp32_precision ==
  "tf32"; the pipeline reads that setting and never changes it). A coreset built from CUDA features may then pick
  other points at near-ties: it passes if its origins are the same, else the line names how many differ and FAILs.
"""

import argparse
import copy
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RENDER = {"resolution": 64, "samples": 4}
PLATES = {"split": "test", "count": 2, "defects": {"min": 1, "max": 2}, "water_stains": True}
SEED = 7
IMAGE_MEAN_DIFF = 4.0  # grey levels
MASK_AGREEMENT = 0.99
IEEE_BOUND, TF32_BOUND = 1e-3, 1e-2


class Results:
    """Appends result lines to the results file (and echoes them into the section's log)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def __call__(self, status: str, name: str, detail: str) -> None:
        line = f"{status} {name}: {detail}"
        with open(self.path, "a") as stream:
            stream.write(line + "\n")
        print(line, flush=True)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| relative to the range of a (inf if either holds NaN or inf)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.inf
    spread = float(a.max() - a.min()) or 1.0
    return float(np.abs(a - b).max()) / spread


def conv_bound() -> tuple[float, str]:
    import torch

    precision = torch.backends.cudnn.conv.fp32_precision
    return (TF32_BOUND if precision == "tf32" else IEEE_BOUND), f"cudnn conv fp32_precision {precision}"


def cuda_device() -> str | None:
    import torch

    return "cuda" if torch.cuda.is_available() else None


def cuda_visible() -> bool:
    """torch.cuda.is_available(), asked in another process: a render job never imports torch next to bpy, and
    neither does the render section (the shell script passes the answer in GPU_CHECK_CUDA)."""
    known = os.environ.get("GPU_CHECK_CUDA")
    if known in ("0", "1"):
        return known == "1"
    code = "import torch; print(int(torch.cuda.is_available()))"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return answer.stdout.strip() == "1"


# --- 1. Cycles renders -------------------------------------------------------------------------------------------


def load_images(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import cv2

    out = {}
    for path in sorted((folder / "images").glob("*.png")):
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(folder / "masks" / path.name), cv2.IMREAD_UNCHANGED)
        out[path.stem] = (image, mask)
    return out


def image_problems(images: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """What is wrong with rendered plates: missing, wrong size, black, saturated, black holes in the plate."""
    size = RENDER["resolution"]
    if len(images) != PLATES["count"]:
        return [f"{len(images)} images written, expected {PLATES['count']}"]
    problems = []
    for name, (image, _) in images.items():
        pixels = image.astype(np.float64)
        centre = image[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4]
        if image.shape[:2] != (size, size) or not np.isfinite(pixels).all():
            problems.append(f"{name}: shape {image.shape}")
        elif centre.mean() < 20:
            problems.append(f"{name}: black (plate centre mean {centre.mean():.1f})")
        elif pixels.min() >= 250:
            problems.append(f"{name}: saturated white")
        elif (centre.max(axis=2) == 0).mean() > 0.001:  # NaN samples come out of Cycles as black pixels
            problems.append(f"{name}: {(centre.max(axis=2) == 0).sum()} black pixels on the plate")
    return problems


def compare_renders(a: dict, b: dict) -> tuple[float, float]:
    """(mean |diff| of the images in grey levels, share of equal mask pixels), worst over the plates."""
    if a.keys() != b.keys():
        return math.inf, 0.0
    diff = max(float(np.abs(a[k][0].astype(int) - b[k][0].astype(int)).mean()) for k in a)
    agree = min(float((a[k][1] == b[k][1]).mean()) for k in a)
    return diff, agree


def cycles_devices(backend: str) -> tuple[str, list[str]]:
    """The device Cycles renders with ("CPU" or "GPU") and the names of the enabled devices of `backend`."""
    import bpy

    preferences = bpy.context.preferences.addons["cycles"].preferences
    used = [d.name for d in preferences.devices if d.use and d.type == backend]
    return bpy.context.scene.cycles.device, used


def render(backend: str, work: Path, report: Results) -> None:
    name = f"render {backend}"
    if backend != "CPU" and not cuda_visible():
        report("SKIP", name, "no CUDA GPU visible (torch.cuda.is_available() is False)")
        return
    start = time.perf_counter()
    import bpy  # noqa: F401 - imported before the plan, as the render job does

    from defectlab.synth.plan import plan_dataset
    from defectlab.synth.plates import render_samples

    samples = plan_dataset("gpu-check", PLATES, SEED)
    out = work / f"render-{backend}"
    render_samples(samples, {**RENDER, "device": backend}, out)  # labels are decoded (and checked exact) there
    seconds = time.perf_counter() - start
    images = load_images(out)
    problems = image_problems(images)
    mode, used = cycles_devices(backend)
    means = ", ".join(f"{image.mean():.0f}" for image, _ in images.values())
    detail = f"{len(images)} plates {RENDER['resolution']}px {RENDER['samples']} samples in {seconds:.1f} s"
    detail += f" (bpy import and scene included), image means {means}"
    if backend == "CPU":
        again = work / "render-CPU-again"
        render_samples(samples, {**RENDER, "device": "CPU"}, again)
        diff, agree = compare_renders(images, load_images(again))
        if diff or agree < 1:
            problems.append(f"a CPU re-render differs (mean |diff| {diff:.3f}, masks {agree:.2%} equal)")
        report("FAIL" if problems else "PASS", name, "; ".join(problems) or f"{detail}; re-render identical")
        return
    if mode != "GPU" or not used:
        problems.append(f"Cycles rendered on the CPU: no {backend} device in use (Cycles device {mode})")
    reference = work / "render-CPU"
    if reference.exists():
        diff, agree = compare_renders(load_images(reference), images)
        detail += f"; vs CPU: mean |diff| {diff:.2f} grey levels (<= {IMAGE_MEAN_DIFF}), masks {agree:.2%} equal"
        if diff > IMAGE_MEAN_DIFF or agree < MASK_AGREEMENT:
            problems.append(f"differs from the CPU render: mean |diff| {diff:.2f}, masks {agree:.2%} equal")
    else:
        detail += "; no CPU render to compare with (its section failed?)"
    detail += f"; Cycles device {mode} on {', '.join(used) or 'nothing'}"
    report("FAIL" if problems else "PASS", name, "; ".join([*problems, detail]) if problems else detail)


# --- 2. Coreset building and scoring ------------------------------------------------------------------------------


def make_stores(root: Path) -> list[Path]:
    """Two tiny patch stores (3 and 2 images of 64 x 64 px, 32 px patches, 4 per image), as the unit tests build."""
    from defectlab.data.layout import write_png
    from defectlab.data.patch_store import PatchGrid, write_patch_store

    rng = np.random.default_rng(SEED)
    paths = []
    for k, count in enumerate((3, 2)):
        dataset = root / f"ds{k}"
        ids = [f"s-{i}" for i in range(count)]
        for sample in ids:
            write_png(dataset / "images" / f"{sample}.png", rng.integers(40, 220, (64, 64, 3), dtype=np.uint8))
            write_png(dataset / "masks" / f"{sample}.png", np.zeros((64, 64), np.uint8))
            write_png(dataset / "instances" / f"{sample}.png", np.zeros((64, 64), np.uint16))
        path = root / f"store{k}.h5"
        write_patch_store(path, dataset, ids, PatchGrid(32, 32), 31)
        paths.append(path)
    return paths


def coreset(work: Path, report: Results) -> None:
    import torch

    from defectlab.features.backbones import build_extractor
    from defectlab.patchcore.inference import score_store
    from defectlab.patchcore.training import fit_coreset, stream

    size, epochs, batch, chunk, sigma = 48, 3, 4, 256, 2.0
    stores = make_stores(work / "stores")
    torch.manual_seed(SEED)
    cpu = build_extractor(weights="none", layers=(1, 2))
    gpu = cuda_device()
    other = gpu or "cpu"
    moved = copy.deepcopy(cpu).to(other)
    bound, precision = conv_bound() if gpu else (IEEE_BOUND, "cpu")
    # Without a GPU the comparisons run cpu against cpu: SKIP if they hold, FAIL if not (the check itself is wrong).
    ok, bad = ("PASS", "FAIL") if gpu else ("SKIP", "FAIL")
    vs = "cuda" if gpu else "no CUDA; cpu vs cpu"

    start = time.perf_counter()
    reference, log = fit_coreset(cpu, stores, size, epochs, batch, "cpu")
    seconds = time.perf_counter() - start
    fine = len(reference.origin) == size and math.isfinite(reference.min_distance)
    report(
        "PASS" if fine else "FAIL",
        "coreset cpu",
        f"{len(reference.origin)} points of {size}, {len(log.replacements)} epochs, replacements "
        f"{log.replacements}, d_m {reference.min_distance:.4f}, {seconds:.1f} s",
    )

    same_features, _ = fit_coreset(cpu, stores, size, epochs, batch, other)
    equal = torch.equal(same_features.origin.cpu(), reference.origin)
    exact = equal and torch.equal(same_features.features.cpu(), reference.features)
    report(
        ok if exact else bad,
        "coreset cuda (cpu features)",
        f"{vs}: origins {'identical' if equal else 'differ'}"
        + (f", features {'bit-identical' if exact else 'differ'}" if equal else "")
        + f", d_m {same_features.min_distance:.6f} vs {reference.min_distance:.6f} (bound: identical)",
    )

    rows_cpu = torch.cat([rows for rows, _ in stream(cpu, stores, batch)]).numpy()
    rows_other = torch.cat([rows.cpu() for rows, _ in stream(moved, stores, batch)]).numpy()
    feature_error = relative(rows_cpu, rows_other)
    report(
        ok if feature_error <= bound else bad,
        "features cuda",
        f"{vs}: {rows_cpu.shape[0]} x {rows_cpu.shape[1]} stream features, max |diff| / range {feature_error:.2e} "
        f"(bound {bound:g}, {precision})",
    )

    full, _ = fit_coreset(moved, stores, size, epochs, batch, other)
    shared = len(set(full.origin.tolist()) & set(reference.origin.tolist()))
    same = torch.equal(full.origin.cpu(), reference.origin)
    detail = f"{vs}: {shared} of {size} origins shared, {'same order' if same else 'not the same order'}"
    if same:
        detail += f", features max |diff| / range {relative(reference.features.numpy(), full.features.cpu()):.2e}"
    report(ok if same else bad, "coreset cuda (cuda features)", detail + f" (bound: same origins; {precision})")

    points = reference.features
    for label, extractor, bound_here in (("cpu features", cpu, IEEE_BOUND), ("cuda features", moved, bound)):
        errors, ranges = [], []
        for store in stores:
            ids_cpu, maps_cpu, _ = score_store(cpu, store, points, chunk, batch, sigma)
            ids_other, maps_other, _ = score_store(extractor, store, points.to(other), chunk, batch, sigma)
            errors.append(relative(maps_cpu, maps_other) if ids_cpu == ids_other else math.inf)
            ranges.append(f"{maps_cpu.min():.3f}..{maps_cpu.max():.3f}")
        worst = max(errors)
        report(
            ok if worst <= bound_here else bad,
            f"scoring cuda ({label})",
            f"{vs}: maps of {len(stores)} stores, max |diff| / map range {worst:.2e} (bound {bound_here:g}"
            f"{', ' + precision if label == 'cuda features' else ''}); cpu map ranges {', '.join(ranges)}",
        )


# --- 3. The training loop ----------------------------------------------------------------------------------------


def training(work: Path, report: Results) -> None:
    import torch
    from torch import nn

    from defectlab.training import load_weights, read_record, seed_everything, step_generator, train

    def job(device: str, name: str, steps: int) -> tuple[dict, nn.Module, list[float]]:
        seed_everything(SEED)
        model = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1),
        )
        losses: list[float] = []

        def step(batch: torch.Tensor, state) -> dict[str, float]:
            state.optimizer.zero_grad()
            loss = nn.functional.mse_loss(state.model(batch), batch)
            loss.backward()
            state.optimizer.step()
            losses.append(loss.item())
            return {"loss": loss.item()}

        def data(step: int) -> torch.Tensor:
            return torch.rand(4, 3, 32, 32, generator=step_generator(SEED, step))

        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        out = work / "training" / name / "model.pt"
        record = train(
            model,
            optimizer,
            step,
            data,
            steps=steps,
            seed=SEED,
            output=out,
            checkpoint_every=1,
            device=device,
            progress=False,
        )
        return read_record(out) | {"check": record == read_record(out), "path": out}, model, losses

    start = time.perf_counter()
    record, model, losses = job("cpu", "cpu", 3)
    ok_cpu = record["check"] and record["device"] == "cpu" and all(map(math.isfinite, losses))
    report(
        "PASS" if ok_cpu else "FAIL",
        "training cpu",
        f"3 steps, losses {', '.join(f'{v:.5f}' for v in losses)}, {record['steps_per_s']:.1f} steps/s, "
        f"{time.perf_counter() - start:.1f} s",
    )
    gpu = cuda_device()
    other = gpu or "cpu"
    bound, precision = conv_bound() if gpu else (IEEE_BOUND, "cpu")
    first, model_other, losses_other = job(other, "other", 3)
    again, model_again, _ = job(other, "other-again", 3)
    error = abs(losses_other[0] - losses[0]) / abs(losses[0])
    pairs = zip(model_other.state_dict().values(), model_again.state_dict().values(), strict=True)
    repeat = all(torch.equal(a, b) for a, b in pairs)
    fresh = copy.deepcopy(model)
    load_weights(first["path"], fresh, device=other)
    pairs = zip(fresh.state_dict().values(), model_other.state_dict().values(), strict=True)
    loaded = all(p.device.type == other for p in fresh.parameters()) and all(torch.equal(a, b) for a, b in pairs)
    problems = [] if first["device"].startswith(other) else [f"the record says device {first['device']}"]
    problems += [] if error <= bound else [f"first-step loss differs by {error:.2e} > {bound:g}"]
    problems += [] if loaded else [f"the final weights did not load back onto {other} unchanged"]
    problems += [] if repeat or gpu else ["a repeated cpu run gives other weights"]
    where = torch.cuda.get_device_name() if gpu else "cpu"
    detail = (
        f"{'cuda' if gpu else 'no CUDA; cpu vs cpu'}: first-step loss {losses_other[0]:.6f} vs cpu {losses[0]:.6f}: "
        f"relative {error:.2e} (bound {bound:g}, {precision}); a repeated run "
        f"{'gives identical weights' if repeat else 'differs (kernels not deterministic)'}; "
        f"{first['steps_per_s']:.1f} steps/s on {where}"
    )
    status = ("FAIL" if problems else "PASS") if gpu else ("FAIL" if problems else "SKIP")
    report(status, "training cuda", "; ".join([*problems, detail]))


def segmentation(work: Path, report: Results) -> None:
    """The clutch study's networks: the logits of one batch on CUDA against the CPU (same seed, same weights), then
    s/step and peak CUDA memory of AdamW steps at the paper's batch (16 x C x 256², C = 1 and 3)."""
    import torch
    import torch.nn.functional as F

    from defectlab.models.segmentation.networks import ARCHITECTURES, build_network, logits

    gpu = cuda_device()
    other = gpu or "cpu"
    bound, precision = conv_bound() if gpu else (IEEE_BOUND, "cpu")
    x = torch.rand(2, 1, 128, 128, generator=torch.Generator().manual_seed(SEED)) * 2 - 1
    for architecture in ARCHITECTURES:
        torch.manual_seed(SEED)
        network = build_network(architecture, 1).eval()
        with torch.no_grad():
            reference = logits(network, x).numpy()
            theirs = logits(network.to(other), x.to(other)).cpu().numpy()
        error = relative(reference, theirs)
        timings = []
        if gpu:
            for channels in (1, 3):
                torch.manual_seed(SEED)
                net = build_network(architecture, channels).to(gpu).train()
                optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
                batch = torch.rand(16, channels, 256, 256, device=gpu) * 2 - 1
                target = (torch.rand(16, 1, 256, 256, device=gpu) > 0.99).float()
                torch.cuda.reset_peak_memory_stats()
                for step in range(12):  # 2 warm-up steps
                    if step == 2:
                        torch.cuda.synchronize()
                        start = time.perf_counter()
                    optimizer.zero_grad(set_to_none=True)
                    F.binary_cross_entropy_with_logits(logits(net, batch), target).backward()
                    optimizer.step()
                torch.cuda.synchronize()
                per_step = (time.perf_counter() - start) / 10
                peak = torch.cuda.max_memory_allocated() / 2**30
                timings.append(f"16x{channels}x256² {per_step:.3f} s/step, peak {peak:.1f} GiB")
        problems = [] if error <= bound else [f"logits differ by {error:.2e} > {bound:g}"]
        detail = f"logits relative {error:.2e} (bound {bound:g}, {precision}); {'; '.join(timings) or 'no CUDA'}"
        status = ("FAIL" if problems else "PASS") if gpu else ("FAIL" if problems else "SKIP")
        report(status, f"segmentation {architecture}", "; ".join([*problems, detail]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", choices=["render", "coreset", "training", "segmentation"])
    parser.add_argument("backend", nargs="?", choices=["CPU", "CUDA", "OPTIX"], help="render only")
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder")
    parser.add_argument("--results", required=True, help="the file result lines are appended to")
    args = parser.parse_args()
    report = Results(args.results)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.section == "render":
        if args.backend is None:
            parser.error("render needs CPU, CUDA or OPTIX")
        render(args.backend, args.work, report)
    elif args.section == "coreset":
        coreset(args.work, report)
    elif args.section == "segmentation":
        segmentation(args.work, report)
    else:
        training(args.work, report)


if __name__ == "__main__":
    sys.exit(main())

"""The kitchen-board study's tables (seed 002 §8): Tables 6.1 (PatchCore per test patch) and 6.2 (CutPaste) and
their analogues beside the thesis's rows, Tables 6.3 and 6.4 (the best row of each method per category), Table
5.2 (training patches per stride and category, with the memory model of spec §4.3 that predicts which runs fit a
GPU), the per-kind patch recall (the thesis's Figs 6.6 and 6.11 as numbers) and the t-SNE of CutPaste's test
patch embeddings (Fig. 6.8).

The thesis's data is proprietary: its numbers are printed beside ours, never compared as a reproduction. Our
positive share differs (spec §11.3), so precision and accuracy compare only loosely; ROC-AUC and recall are the
comparable columns. Rows of random-initialised backbones (`weights: none`) are not ImageNet rows.
"""

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from defectlab.metrics.patch import Patches

# Table 6.1 [T]: No. -> category, backbone, blur, ROC %, accuracy, precision, recall, [[TN, FP], [FN, TP]]
THESIS_61 = {
    1: ("edges", "resnet50", True, 74.51, 0.7143, 0.0457, 0.7571, ((5511, 2212), (34, 106))),
    2: ("edges", "resnet50", False, 87.63, 0.8730, 0.1005, 0.7714, ((6757, 966), (32, 108))),
    3: ("white", "resnet50", False, 89.06, 0.9608, 0.3852, 0.7909, ((8618, 308), (51, 193))),
    4: ("white", "resnet50", True, 79.63, 0.8609, 0.1277, 0.7254, ((7718, 1208), (67, 177))),
    5: ("edges (E2: White's totals)", "resnet18", False, 74.03, 0.8561, 0.0985, 0.5409, ((7719, 1207), (112, 132))),
    6: ("white", "resnet18", False, 76.62, 0.8323, 0.0936, 0.6106, ((7484, 1442), (95, 149))),
}
# Table 6.2 [T], the same columns; printed as is (accuracy 0.893, precision 0.028, recall 0.64344)
THESIS_62 = {
    1: ("edges", "resnet50", False, 79.50, 0.7116, 0.0445, 0.7428, ((5492, 2231), (36, 104))),
    2: ("edges", "resnet18", False, 82.56, 0.893, 0.1012, 0.6357, ((6933, 790), (51, 89))),
    3: ("white", "resnet50", False, 78.67, 0.8004, 0.0839, 0.6557, ((7180, 1746), (84, 160))),
    4: ("white", "resnet18", False, 80.90, 0.8729, 0.1271, 0.64344, ((7848, 1078), (87, 157))),
    5: ("edges", "resnet50", True, 64.81, 0.6563, 0.028, 0.5428, ((5085, 2638), (64, 76))),
    6: ("white", "resnet50", True, 84.82, 0.9256, 0.2177, 0.6926, ((8319, 607), (75, 169))),
    7: ("edges", "resnet18", True, 79.90, 0.9261, 0.1402, 0.6142, ((7196, 527), (54, 86))),
    8: ("white", "resnet18", True, 78.54, 0.8074, 0.0886, 0.6721, ((7240, 1686), (80, 164))),
}
# Tables 6.3 (White) and 6.4 (White with edges) [T]: category -> model -> (the row it is, ROC %, accuracy,
# precision, recall, [[TN, FP], [FN, TP]]); the thesis selects each by ROC-AUC (§8.5)
THESIS_6364 = {
    "white": {
        "patchcore": ("6.1 Exp. 3", 89.06, 0.9608, 0.3852, 0.7909, ((8618, 308), (51, 193))),
        "cutpaste": ("6.2 Exp. 6", 84.82, 0.9256, 0.2177, 0.6926, ((8319, 607), (75, 169))),
    },
    "edges": {
        "patchcore": ("6.1 Exp. 2", 87.63, 0.8730, 0.1005, 0.7714, ((6757, 966), (32, 108))),
        "cutpaste": ("6.2 Exp. 2", 82.56, 0.893, 0.1012, 0.6357, ((6933, 790), (51, 89))),
    },
}
METHODS = {"patchcore": "PatchCore", "cutpaste": "CutPaste"}  # model -> method of Tables 6.3 and 6.4
CATEGORIES = {"white": "Table 6.3: White", "edges": "Table 6.4: White with edges"}
# Table 5.2 [T]: (category, train stride) -> (data length, training result); image size 224 (E1: "244" read 224)
THESIS_52 = {
    ("white", 112): (185875, "Failed - OOM"),
    ("white", 224): (46821, "Failed - OOM"),
    ("white", 448): (11899, "Failed - OOM"),
    ("white", 512): (9254, "Worked"),
    ("edges", 112): (42746, "Failed - OOM"),
    ("edges", 224): (10946, "Failed - OOM"),
    ("edges", 448): (2826, "Worked"),
}
CELLS = 26 * 26  # feature cells of a 224-pixel patch, ResNet layers 2 + 3, ind_knn_ad's pooling (§4.1)
WIDTHS = {"resnet18": 128 + 256, "resnet50": 512 + 1024}
GIB = 2**30
PATCH_METRICS = ("patch_auroc", "patch_accuracy", "patch_precision", "patch_recall", "patch_f1")
COUNTS = ("patch_tn", "patch_fp", "patch_fn", "patch_tp")


def jl_dimension(rows: int, eps: float = 0.9) -> int:
    """sklearn's johnson_lindenstrauss_min_dim: 4 ln N / (eps^2 / 2 - eps^3 / 3)."""
    return int(4 * math.log(rows) / (eps**2 / 2 - eps**3 / 3))


# usable GPU memory of the thesis's 11.90 GB TITAN Xp (11.08 GiB) less the CUDA context, the backbone and the
# distance temporaries: the thesis's results put the boundary between 9.0 GiB (worked) and 10.75 GiB (failed)
BUDGET_GIB = 10.0


def memory_model(patches: int, budget_gib: float = BUDGET_GIB, eps: float = 0.9) -> dict:
    """Spec §4.3: N = patches x 676 vectors, the thesis's 1 % coreset of them, the JL dimension k, the greedy
    pass's two fp16 copies of the projected bank on the GPU (2 N k 2 bytes) against `budget_gib`, and the fp32
    host banks of ResNet-18 and ResNet-50."""
    vectors = patches * CELLS
    k = jl_dimension(vectors, eps) if vectors > 1 else 0
    gpu = 2 * vectors * k * 2
    return {
        "vectors": vectors,
        "coreset": max(1, int(0.01 * vectors)) if vectors else 0,
        "jl_dim": k,
        "gpu_gib": gpu / GIB,
        "bank_r18_gib": vectors * WIDTHS["resnet18"] * 4 / GIB,
        "bank_r50_gib": vectors * WIDTHS["resnet50"] * 4 / GIB,
        "predicted": "fits" if gpu <= budget_gib * GIB else "out of memory",
    }


def table52(counts: pd.DataFrame, budget_gib: float = BUDGET_GIB) -> pd.DataFrame:
    """One row per (dataset, stride) of `counts` (columns dataset, category, stride, images, positions, patches),
    with the memory model and the thesis's data length and result for the same category and stride."""
    rows = []
    for row in counts.itertuples(index=False):
        thesis = THESIS_52.get((row.category, int(row.stride)), (None, ""))
        rows.append(
            {
                **row._asdict(),
                "kept": row.patches / row.positions if row.positions else float("nan"),
                **memory_model(int(row.patches), budget_gib),
                "thesis_patches": thesis[0],
                "thesis_result": thesis[1],
                "thesis_predicted": memory_model(thesis[0], budget_gib)["predicted"] if thesis[0] else "",
            }
        )
    return pd.DataFrame(rows)


def _per_patch_table(metrics: pd.DataFrame, info: Sequence[Mapping], thesis: Mapping[int, tuple]) -> pd.DataFrame:
    """One row per experiment of `info` (jobs.kitchen.row_info), its patch metrics and confusion matrix from
    `metrics` (the tidy rows of every experiment), and the row of `thesis` it mirrors, if any."""
    wide = metrics[metrics["metric"].isin(PATCH_METRICS + COUNTS)].pivot_table(
        index="experiment", columns="metric", values="value", aggfunc="first"
    )
    rows = []
    for item in info:
        values = wide.loc[item["experiment"]] if item["experiment"] in wide.index else pd.Series(dtype=float)
        row = thesis.get(item["thesis_row"])
        rows.append(
            {
                **item,
                **{m.removeprefix("patch_"): values.get(m, float("nan")) for m in PATCH_METRICS + COUNTS},
                "thesis_auroc": row[3] / 100 if row else float("nan"),
                "thesis_accuracy": row[4] if row else float("nan"),
                "thesis_precision": row[5] if row else float("nan"),
                "thesis_recall": row[6] if row else float("nan"),
                "thesis_cm": str([list(r) for r in row[7]]) if row else "",
            }
        )
    return pd.DataFrame(rows)


def table61(metrics: pd.DataFrame, info: Sequence[Mapping]) -> pd.DataFrame:
    """Table 6.1's analogue: the PatchCore rows (every model but CutPaste) beside the thesis's Table 6.1 rows; a
    row's thesis number (report.kitchen_rows) is read in the table of its model."""
    return _per_patch_table(metrics, [item for item in info if item["model"] != "cutpaste"], THESIS_61)


def table62(metrics: pd.DataFrame, info: Sequence[Mapping]) -> pd.DataFrame:
    """Table 6.2's analogue: the CutPaste rows beside the thesis's Table 6.2 rows."""
    return _per_patch_table(metrics, [item for item in info if item["model"] == "cutpaste"], THESIS_62)


def best_by_method(table: pd.DataFrame, categories: Sequence[str] = tuple(CATEGORIES)) -> pd.DataFrame:
    """Tables 6.3 and 6.4's selection (§8.5): per category and method, the row of `table` (Tables 6.1 and 6.2
    together) with the highest ROC-AUC; a method without a scored row in a category keeps its place with no
    experiment (None) and NaN metrics, so the table says so rather than dropping it."""
    rows = []
    for category in categories:
        for model, method in METHODS.items():
            mine = table[(table["category"] == category) & (table["model"] == model) & table["auroc"].notna()]
            best = mine.iloc[mine["auroc"].to_numpy().argmax()].to_dict() if len(mine) else {"experiment": None}
            rows.append({**best, "category": category, "model": model, "method": method})
    return pd.DataFrame(rows)


def kinds_table(metrics: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """Per experiment and defect kind: patch recall and share of instances detected (rows patch_kind_*)."""
    rows = metrics[metrics["metric"].isin(["patch_kind_recall", "patch_kind_detected"])]
    wide = rows.pivot_table(index=["experiment", "class"], columns="metric", values="value", aggfunc="first")
    order = {name: k for k, name in enumerate(labels)}
    wide = wide.reset_index().sort_values("experiment", key=lambda names: names.map(order), kind="stable")
    wide = wide.rename(
        columns={"class": "kind", "patch_kind_recall": "patch_recall", "patch_kind_detected": "instances_detected"}
    )
    wide.insert(1, "label", wide["experiment"].map(labels))
    return wide


def _number(value: float, digits: int = 4) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def _matrix(row: tuple) -> str:
    return "" if pd.isna(row.tn) else f"[[{row.tn:.0f}, {row.fp:.0f}], [{row.fn:.0f}, {row.tp:.0f}]]"


def _per_patch_markdown(table: pd.DataFrame, title: str, preamble: Sequence[str]) -> str:
    lines = [
        f"# {title}",
        "",
        *preamble,
        "",
        "| experiment | category | backbone | weights | blur | train stride | threshold | ROC-AUC | accuracy | "
        "precision | recall | F1 | [[TN, FP], [FN, TP]] | thesis row | thesis ROC | thesis acc. | thesis prec. | "
        "thesis recall |",
        "|" + " --- |" * 18,
    ]
    for row in table.itertuples(index=False):
        lines.append(
            f"| {row.label} | {row.category} | {row.backbone} | {row.weights} | {'with' if row.blur else 'without'} | "
            f"{row.train_stride or ''} | {row.threshold} | {_number(row.auroc)} | {_number(row.accuracy)} | "
            f"{_number(row.precision)} | {_number(row.recall)} | {_number(row.f1)} | {_matrix(row)} | "
            f"{'' if pd.isna(row.thesis_row) else int(row.thesis_row)} | {_number(row.thesis_auroc)} | "
            f"{_number(row.thesis_accuracy)} | {_number(row.thesis_precision)} | {_number(row.thesis_recall)} |"
        )
    return "\n".join(lines) + "\n"


def _matrix(row) -> str:
    return "" if pd.isna(row.tn) else f"[[{row.tn:.0f}, {row.fp:.0f}], [{row.fn:.0f}, {row.tp:.0f}]]"


def markdown61(table: pd.DataFrame) -> str:
    return _per_patch_markdown(
        table,
        "Table 6.1 analogue: per-patch evaluation on the kitchen boards",
        [
            "Ours on the generated stand-in boards beside the thesis's rows on the proprietary boards (Table 6.1; row",
            "5 carries White's totals, erratum E2). Our positive share is far higher than the thesis's 1.8-2.7 %, so",
            "precision and accuracy compare loosely; ROC-AUC and recall are the comparable columns. `weights: none`",
            "rows are randomly initialised backbones (no ImageNet weights offline), not reproductions of the thesis's",
            "rows.",
        ],
    )


def markdown62(table: pd.DataFrame) -> str:
    title = "Table 6.2 analogue: CutPaste per test patch on the kitchen boards"
    if table.empty:
        return f"# {title}\n\nNo CutPaste experiment (`model: cutpaste`, `unit: patch`) is configured.\n"
    return _per_patch_markdown(
        table,
        title,
        [
            "Ours on the generated stand-in boards beside the thesis's rows on the proprietary boards (Table 6.2:",
            "binary CutPaste with the thesis's augmentations on ImageNet-pretrained ResNets, scored by a Gaussian",
            "density (GDE) on the 128-d head embeddings). Our positive share is far higher than the thesis's",
            "1.8-2.7 %, so precision and accuracy compare loosely; ROC-AUC and recall are the comparable columns.",
            "`weights: none` rows train from randomly initialised backbones (no ImageNet weights offline), not",
            "reproductions of the thesis's rows.",
        ],
    )


def markdown6364(best: pd.DataFrame) -> str:
    """Tables 6.3 and 6.4 in one file: per category, each method's row chosen by `best_by_method` beside the
    thesis's."""
    lines = [
        "# Tables 6.3 and 6.4 analogues: the best experiment of each method per category",
        "",
        "Per category, the PatchCore and the CutPaste experiment with the highest patch ROC-AUC (the thesis's",
        "selection rule), so ours may be other rows than the thesis's. Precision and accuracy compare loosely (our",
        "positive share is far higher); ROC-AUC and recall are the comparable columns.",
    ]
    for category, title in CATEGORIES.items():
        lines += [
            "",
            f"## {title}",
            "",
            "| method | experiment | thesis row mirrored | ROC-AUC | precision | recall | accuracy | "
            "[[TN, FP], [FN, TP]] | thesis's selection | thesis ROC | thesis prec. | thesis recall | thesis acc. | "
            "thesis [[TN, FP], [FN, TP]] |",
            "|" + " --- |" * 14,
        ]
        for row in best[best["category"] == category].itertuples(index=False):
            source, roc, accuracy, precision, recall, cm = THESIS_6364[category][row.model]
            thesis = (
                f"{source} | {_number(roc / 100)} | {_number(precision)} | {_number(recall)} | "
                f"{_number(accuracy)} | {[list(r) for r in cm]} |"
            )
            if pd.isna(row.experiment):
                lines.append(f"| {row.method} | no {row.method} experiment in this category | | | | | | | {thesis}")
                continue
            lines.append(
                f"| {row.method} | {row.label} | {'' if pd.isna(row.thesis_row) else int(row.thesis_row)} | "
                f"{_number(row.auroc)} | {_number(row.precision)} | {_number(row.recall)} | "
                f"{_number(row.accuracy)} | {_matrix(row)} | {thesis}"
            )
    return "\n".join(lines) + "\n"


def markdown52(table: pd.DataFrame, budget_gib: float) -> str:
    lines = [
        "# Table 5.2 analogue: PatchCore training patches by stride and category",
        "",
        "Patches of 224 pixels kept by the > 31 filter over the generated training images; N = patches x 676 feature",
        "vectors, k the JL dimension at eps 0.9, the greedy pass's projected bank as two fp16 copies on the GPU",
        f"against {budget_gib} GiB usable of the thesis's 11.90 GB card (spec §4.3: a reading of its out-of-memory",
        "results, not stated in it). The thesis's columns: its data length, its result, and what the same memory",
        "model predicts for it.",
        "",
        "| dataset | category | stride | images | positions | patches | kept | N vectors | 1 % coreset | k | GPU GiB | "
        "R18 bank GiB | R50 bank GiB | predicted | thesis patches | thesis result | model on thesis |",
        "|" + " --- |" * 17,
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.dataset} | {r.category} | {r.stride} | {r.images} | {r.positions} | {r.patches} | {r.kept:.1%} | "
            f"{r.vectors:,} | {r.coreset:,} | {r.jl_dim} | {r.gpu_gib:.2f} | {r.bank_r18_gib:.2f} | "
            f"{r.bank_r50_gib:.2f} | {r.predicted} | "
            f"{'' if pd.isna(r.thesis_patches) else f'{int(r.thesis_patches):,}'} | {r.thesis_result} | "
            f"{r.thesis_predicted} |"
        )
    return "\n".join(lines) + "\n"


def markdown_kinds(table: pd.DataFrame) -> str:
    lines = [
        "# Per-kind patch recall (the thesis's Figs 6.6 and 6.11 as numbers)",
        "",
        "Share of the test patches touching each anomaly kind that are predicted anomalous, and share of its",
        "instances under at least one predicted patch, at each experiment's threshold.",
        "",
        "| experiment | kind | patch recall | instances detected |",
        "| --- | --- | --- | --- |",
    ]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.label} | {r.kind} | {_number(r.patch_recall)} | {_number(r.instances_detected)} |")
    return "\n".join(lines) + "\n"


def roc_figure(curves: Mapping[str, tuple[str, np.ndarray, np.ndarray, float]], path: str) -> None:
    """The thesis's Figs 6.2 and 6.7: ROC curves per test patch, one panel per board category (label -> category,
    FPR, TPR, AUC), legend "AUC = %0.2f", a dashed diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(dict.fromkeys(category for category, *_ in curves.values()))
    fig, axes = plt.subplots(1, len(categories), figsize=(5.2 * len(categories), 5), dpi=120, squeeze=False)
    for ax, category in zip(axes[0], categories, strict=True):
        for label, (where, fpr, tpr, area) in curves.items():
            if where == category:
                ax.plot(fpr, tpr, label=f"{label} (AUC = {area:0.2f})")
        ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
        ax.set_title(f"ROC per test patch: {category}")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


# Fig. 6.8's t-SNE (spec §5.7 [R]); perplexity is clamped below the sample count for tiny inputs
TSNE = {"perplexity": 28, "learning_rate": 100, "early_exaggeration": 12, "angle": 0.3, "init": "pca", "max_iter": 1000}


def read_embeddings(paths: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The CutPaste embeddings files beside a split's maps files, concatenated in order: the patches (image, x,
    y) and their (N, D) embeddings."""
    from defectlab.hdf5 import open_h5

    keys, embeddings = [], []
    for path in paths:
        with open_h5(path) as h5:
            keys.append(pd.DataFrame({"image": h5["image"].asstr()[:], "x": h5["x"][:], "y": h5["y"][:]}))
            embeddings.append(h5["embedding"][:])
    return pd.concat(keys, ignore_index=True), np.concatenate(embeddings)


def embedding_rows(keys: pd.DataFrame, ids: Sequence[str], patches: Patches) -> np.ndarray:
    """The row of `keys` (image, x, y) of each test patch, in the patches' order, so the embeddings line up with
    the labels the evaluation gives them; like the evaluation's patch scores, extra rows are left out and a test
    patch without one is refused."""
    rows = zip(keys["image"], keys["x"], keys["y"], strict=True)
    where = {(image, int(x), int(y)): k for k, (image, x, y) in enumerate(rows)}
    wanted = [(ids[k], int(x), int(y)) for k, (x, y) in zip(patches.image, patches.corners, strict=True)]
    missing = [key for key in wanted if key not in where]
    if missing:
        shown = ", ".join(f"{image} at x {x}, y {y}" for image, x, y in missing[:3])
        raise ValueError(f"embeddings: {len(missing)} of the {len(wanted)} test patches have none ({shown}, …)")
    return np.array([where[key] for key in wanted], dtype=int)


def tsne_coordinates(
    embeddings: np.ndarray, labels: np.ndarray, max_points: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """2-d t-SNE coordinates of every positive and at most `max_points` negatives (a seeded sample, so the figure
    stays readable and its run time bounded), and the indices of the rows kept (ascending)."""
    from sklearn.manifold import TSNE as Tsne

    labels = np.asarray(labels, bool)
    negatives = np.flatnonzero(~labels)
    if len(negatives) > max_points:
        negatives = np.random.default_rng(seed).choice(negatives, max_points, replace=False)
    kept = np.sort(np.concatenate([np.flatnonzero(labels), negatives]))
    settings = {**TSNE, "perplexity": min(TSNE["perplexity"], len(kept) - 1)}
    coordinates = Tsne(n_components=2, random_state=seed, **settings).fit_transform(np.asarray(embeddings)[kept])
    return coordinates, kept


def tsne_figure(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str, max_points: int = 2000, seed: int = 0
) -> None:
    """The thesis's Fig. 6.8: t-SNE of the test-patch embeddings, one panel per experiment (label -> embeddings,
    patch labels), normal patches blue and anomalous ones orange, drawn over the normal ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5), dpi=120, squeeze=False)
    for ax, (label, (embeddings, labels)) in zip(axes[0], panels.items(), strict=True):
        coordinates, kept = tsne_coordinates(embeddings, labels, max_points, seed)
        positive = np.asarray(labels, bool)[kept]
        for mask, colour, name in ((~positive, "tab:blue", "normal (0)"), (positive, "tab:orange", "anomalous (1)")):
            ax.scatter(*coordinates[mask].T, s=6, c=colour, label=f"{name}: {int(mask.sum())}", linewidths=0)
        ax.set(xticks=[], yticks=[])
        ax.set_title(f"t-SNE of test patches: {label}", fontsize=9)
        ax.legend(fontsize=7, loc="best", markerscale=2)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)

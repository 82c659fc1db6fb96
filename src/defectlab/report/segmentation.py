"""Table 1 of the clutch paper (seed 004 §5.2, spec R8) beside this pipeline's numbers: per training source and
regime (plain, fine-tuned FT, exposure-stacked EX), the pixel precision, recall and F1 (%) of FCN, DeepLabV3 and
U-Net on the (stand-in) RealClutch test split.

An experiment's row follows from its config: the source is the dataset it trained on, or for a fine-tuning run the
dataset its pretrained experiment trained on, named as the paper does (a rendered clutch dataset is SynthClutch,
its `domain: real` stand-in RealClutch, a converted dataset by its source); FT is `pretrained`, EX
`exposure_stack`. Rows without an experiment show the paper's numbers only.
"""

import io
from collections.abc import Mapping

import pandas as pd

# spec Appendix B: Table 1 as printed (OCR decimals repaired, spec R2), in %
PAPER_CSV = """row,source,ft,ex,fcn_p,fcn_r,fcn_f1,dlv3_p,dlv3_r,dlv3_f1,unet_p,unet_r,unet_f1
1,RealClutch,false,false,53.2,19.4,28.4,59.1,16.5,25.8,55.7,21.7,31.3
2,DAGM,false,false,0.0,4.6,0.1,1.0,0.1,0.1,0.1,5.9,0.2
3,KSDD2,false,false,1.5,5.1,2.3,2.2,6.5,3.3,0.7,7.0,1.3
4,Severstal Steel,false,false,1.0,9.7,1.8,1.7,9.0,2.9,1.0,3.2,1.5
5,MTD,false,false,7.7,10.2,8.8,23.5,9.9,13.9,8.7,11.6,10.0
6,CSEM-MISD,false,false,6.5,6.9,6.7,9.3,3.8,5.4,4.6,5.0,4.8
7,DAGM,true,false,15.5,4.7,7.2,9.3,5.3,6.7,20.0,3.3,5.6
8,KSDD2,true,false,8.0,3.9,5.3,2.2,1.2,1.5,3.6,0.8,1.3
9,Severstal Steel,true,false,33.7,12.9,18.6,19.5,8.6,11.9,6.1,12.0,8.0
10,MTD,true,false,28.8,10.5,15.3,48.1,6.6,11.5,48.0,9.5,15.9
11,CSEM-MISD,true,false,55.2,17.5,26.5,55.0,19.9,29.2,46.3,13.5,20.9
12,SynthClutch,false,false,59.3,10.7,18.1,57.4,10.7,18.1,67.2,10.8,18.7
13,SynthClutch,true,false,69.6,24.0,35.7,63.1,25.5,36.3,67.6,28.9,40.5
14,RealClutch,false,true,59.0,16.3,25.5,54.8,17.9,27.0,55.2,20.3,29.7
15,SynthClutch,false,true,58.1,11.6,19.4,57.5,12.0,19.8,60.0,11.6,19.4
16,SynthClutch,true,true,67.9,24.2,35.7,67.6,27.7,39.3,64.9,23.5,34.6
"""
NETWORKS = {"fcn": ("fcn", "FCN"), "deeplabv3": ("dlv3", "DLv3"), "unet": ("unet", "U-Net")}
SOURCES = {  # registry source -> the paper's name
    "dagm2007": "DAGM",
    "kolektorsdd2": "KSDD2",
    "severstal": "Severstal Steel",
    "magnetic_tile": "MTD",
    "csem_misd": "CSEM-MISD",
    "clutch": "RealClutch",
}
METRICS = {"pixel_precision": "p", "pixel_recall": "r", "pixel_f1": "f1"}


def paper_table() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(PAPER_CSV))


def regime(row: pd.Series) -> str:
    return {(False, False): "", (True, False): " (FT)", (False, True): " (EX)", (True, True): " (EX+FT)"}[
        (bool(row["ft"]), bool(row["ex"]))
    ]


def source_name(datasets: Mapping[str, Mapping], dataset: str) -> str:
    """The paper's name of a training dataset."""
    spec = datasets[dataset]
    if "source" in spec:
        entry = spec["source"]["entry"] if isinstance(spec["source"], Mapping) else spec["source"]
        return SOURCES.get(entry, entry)
    if spec.get("generator") == "clutch":
        return "RealClutch" if spec.get("domain") == "real" else "SynthClutch"
    return dataset


def experiment_rows(config: Mapping, settings: Mapping[str, Mapping]) -> pd.DataFrame:
    """Each segmentation experiment's place in Table 1: network, source, ft, ex (`settings`: resolved settings by
    experiment)."""
    experiments, datasets = config["experiments"], config["datasets"]
    rows = []
    for name in settings:
        spec = experiments[name]
        origin = spec.get("pretrained", name)
        sources = {source_name(datasets, d) for d in experiments[origin]["train"]}
        rows.append(
            {
                "experiment": name,
                "network": spec["model"],
                "source": " + ".join(sorted(sources)),
                "ft": "pretrained" in spec,
                "ex": bool(settings[name]["exposure_stack"]),
            }
        )
    return pd.DataFrame(rows, columns=["experiment", "network", "source", "ft", "ex"])


def table1(metrics: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Tidy Table 1: one row per (paper row, network, metric) with `ours` and `paper` in %, and the experiment.
    Experiments whose (source, ft, ex) is not a paper row are kept with row NaN."""
    paper = paper_table()
    long = []
    for _, row in paper.iterrows():
        for network, (prefix, _) in NETWORKS.items():
            for metric in METRICS.values():
                long.append(
                    {
                        "row": row["row"],
                        "source": row["source"],
                        "ft": row["ft"],
                        "ex": row["ex"],
                        "network": network,
                        "metric": metric,
                        "paper": row[f"{prefix}_{metric}"],
                    }
                )
    long = pd.DataFrame(long)
    ours = metrics[metrics["metric"].isin(METRICS) & (metrics["class"] == "defect")]
    ours = ours.assign(metric=ours["metric"].map(METRICS), ours=ours["value"] * 100)[["experiment", "metric", "ours"]]
    ours = places.merge(ours, on="experiment")
    return long.merge(ours, on=["source", "ft", "ex", "network", "metric"], how="outer").sort_values(
        ["row", "source", "ft", "ex", "network", "metric"], na_position="last", ignore_index=True
    )


def insignificant_share(metrics: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Per experiment, the share (%) of insignificant-defect pixels predicted as defects: false positives the paper
    discusses (§6) but does not tabulate."""
    rows = metrics[(metrics["metric"] == "class_pixel_recall") & (metrics["class"] == "insignificant_defect")]
    return places.merge(rows.assign(share=rows["value"] * 100)[["experiment", "share"]], on="experiment", how="left")


def _cell(ours: float, paper: float) -> str:
    mine = "–" if pd.isna(ours) else f"{ours:.1f}"
    theirs = "" if pd.isna(paper) else f" ({paper:.1f})"
    return mine + theirs


def markdown(table: pd.DataFrame, shares: pd.DataFrame, note: str) -> str:
    """Table 1 as Markdown: each cell ours (paper); '–' where this run has no experiment for the row."""
    header = ["#", "source"] + [f"{label} {m.upper()}" for _, label in NETWORKS.values() for m in ("P", "R", "F1")]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    keys = table[["row", "source", "ft", "ex"]].drop_duplicates()
    for _, key in keys.iterrows():
        part = table[(table["source"] == key["source"]) & (table["ft"] == key["ft"]) & (table["ex"] == key["ex"])]
        cells = []
        for network in NETWORKS:
            for metric in ("p", "r", "f1"):
                hit = part[(part["network"] == network) & (part["metric"] == metric)]
                cells.append(_cell(hit["ours"].mean(), hit["paper"].iloc[0]) if len(hit) else "–")
        number = "" if pd.isna(key["row"]) else str(int(key["row"]))
        lines.append(f"| {number} | {key['source']}{regime(key)} | " + " | ".join(cells) + " |")
    share_lines = [
        f"- {r.experiment}: {r.share:.1f} % of insignificant-defect pixels predicted as defects"
        for r in shares.itertuples()
        if not pd.isna(r.share)
    ]
    parts = [
        "# Table 1 of the clutch paper: pixel P, R, F1 (%) on the RealClutch test split, this run (paper)",
        "",
        *lines,
        "",
        note,
    ]
    if share_lines:
        parts += ["", "False positives on insignificant defects (never in the masks, paper §6):", "", *share_lines]
    return "\n".join(parts) + "\n"

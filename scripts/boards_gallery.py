"""Gallery of the kitchen boards of this run (the thesis's Figs. 3.3 and 6.5): per category a normal board (the
first of its normal dataset, or else the anomalous board rendered again without its anomalies) and the anomalous
board with the most kinds of its first anomalous dataset, with masks, borders and labels; then a crop of each
anomaly kind from the anomalous datasets' instance masks."""

import dataclasses
from pathlib import Path

from defectlab.data.exclusions import read_exclusions
from defectlab.data.layout import load_sample, read_index
from defectlab.report.boards_gallery import Board, boards_gallery_figure, kind_crops
from defectlab.runtime import atomic_output, log_to
from defectlab.synth.boards import make, plan_board

log_to(snakemake.log[0])
shown = snakemake.params.datasets  # category -> {"anomalous": dataset, "normal": dataset or None}


def kinds_of(value: str) -> set[str]:
    return {k for k in value.split(",") if k}


boards, covering = [], []  # covering: (root, image id) of anomalous boards that together hold every kind drawn
for category, names in shown.items():
    root = Path(snakemake.input[f"{category}_anomalous"])
    index = read_index(root)
    anomalous = index[index["label"] == "anomalous"].reset_index(drop=True)
    if anomalous.empty:
        print(f"{category}: {names['anomalous']} holds no anomalous board, left out")
        continue
    chosen = anomalous.iloc[int(anomalous["kinds"].map(lambda k: len(kinds_of(k))).idxmax())]
    exclusions = read_exclusions(root / "exclusions.json")
    sample = load_sample(root, chosen["id"])
    if names["normal"]:
        normal_root = Path(snakemake.input[f"{category}_normal"])
        first = read_index(normal_root).iloc[0]
        normal = load_sample(normal_root, first["id"])
        boards.append(
            Board(
                f"{category}: normal ({first['id']})",
                normal.image,
                normal.mask,
                normal.instances,
                read_exclusions(normal_root / "exclusions.json")[f"{first['id']}.png"],
            )
        )
    else:  # the anomalous board's twin: the same board without its anomalies
        i = int(chosen["id"].rsplit("-", 1)[1])
        planned = plan_board(names["anomalous"], snakemake.params.specs[names["anomalous"]], snakemake.params.seed, i)
        assert planned.id == chosen["id"], (planned.id, chosen["id"])
        twin = make(dataclasses.replace(planned, anomalies=()))
        boards.append(Board(f"{category}: normal (its twin)", twin.image, twin.mask, twin.instances, twin.exclusion))
    boards.append(
        Board(
            f"{category}: anomalous ({chosen['id']}, {int(chosen['anomalies'])} anomalies)",
            sample.image,
            sample.mask,
            sample.instances,
            exclusions[f"{chosen['id']}.png"],
        )
    )
    print(f"{category}: normal {names['normal'] or 'twin'}, anomalous {chosen['id']} of {names['anomalous']}")
    found = kinds_of(chosen["kinds"])
    covering.append((root, chosen["id"]))
    for _, row in anomalous.sort_values("anomalies", ascending=False, kind="stable").iterrows():
        if not kinds_of(row["kinds"]) <= found:
            found |= kinds_of(row["kinds"])
            covering.append((root, row["id"]))


def covering_boards():
    for root, image_id in dict.fromkeys(covering):
        sample = load_sample(root, image_id)
        yield sample.image, sample.mask, sample.instances


crops = kind_crops(covering_boards())
print(f"crops of {', '.join(crops)} from {len(dict.fromkeys(covering))} boards")
figure = boards_gallery_figure(boards, crops)
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png")

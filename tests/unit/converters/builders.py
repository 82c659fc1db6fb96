"""Builders of tiny datasets in each dataset's real layout, with planted pixel values to check pairing.

Every image is flat grey (or flat colour) with a value of its own, so a converted image says which
original it came from; masks are drawn at known places. Sizes are small and not square (H != W), so a
transposed mask or image shows.
"""

import json
from pathlib import Path

import cv2
import numpy as np

H, W = 12, 16


def save(path: Path, array: np.ndarray) -> Path:
    """Write an image with OpenCV (colour arrays in BGR order), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array), path
    return path


def write(path: Path, text: str) -> Path:
    """Write a text file (a label list, an annotation file), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def grey(value: int, h: int = H, w: int = W) -> np.ndarray:
    return np.full((h, w), value, np.uint8)


def boxes(*slices: tuple[slice, slice], h: int = H, w: int = W, on: int = 255) -> np.ndarray:
    """A binary mask (0 / `on`) with the given (rows, cols) rectangles set."""
    mask = np.zeros((h, w), np.uint8)
    for rows, cols in slices:
        mask[rows, cols] = on
    return mask


# MVTec AD: {category}/train/good, {category}/test/{defect}, {category}/ground_truth/{defect}/{n}_mask.png
MVTEC_SCRATCH = (slice(2, 5), slice(3, 9))
MVTEC_SCRATCH_001 = (slice(7, 12), slice(10, 11))
MVTEC_BENT = boxes((slice(1, 3), slice(1, 3)), (slice(9, 11), slice(12, 15)))
MVTEC_BENT[6, 6] = MVTEC_BENT[7, 7] = 255  # touching diagonally: one instance under 8-connectivity


def build_mvtec(root: Path) -> Path:
    save(root / "metal_nut/train/good/000.png", grey(10))
    save(root / "metal_nut/train/good/001.png", grey(11))
    save(root / "metal_nut/test/good/000.png", grey(20))
    save(root / "metal_nut/test/scratch/000.png", grey(30))
    save(root / "metal_nut/ground_truth/scratch/000_mask.png", boxes(MVTEC_SCRATCH))
    save(root / "metal_nut/test/scratch/001.png", grey(31))
    save(root / "metal_nut/ground_truth/scratch/001_mask.png", boxes(MVTEC_SCRATCH_001))
    save(root / "metal_nut/test/bent/000.png", grey(40))
    save(root / "metal_nut/ground_truth/bent/000_mask.png", MVTEC_BENT)
    save(root / "tile/train/good/000.png", grey(50))
    save(root / "tile/test/crack/000.png", grey(60))
    save(root / "tile/ground_truth/crack/000_mask.png", boxes((slice(0, 2), slice(0, W))))
    (root / "license.txt").write_text("CC BY-NC-SA 4.0\n")
    return root


# KolektorSDD2: {split}/{name}.png + {split}/{name}_GT.png; colour images (B, G, R planted apart)
KSDD2_BLOBS = boxes((slice(1, 4), slice(1, 4)), (slice(8, 11), slice(10, 14)))


def colour(b: int, g: int, r: int, h: int = H, w: int = W) -> np.ndarray:
    image = np.empty((h, w, 3), np.uint8)
    image[:] = (b, g, r)
    return image


def build_ksdd2(root: Path) -> Path:
    save(root / "train/10000.png", colour(10, 20, 30))
    save(root / "train/10000_GT.png", KSDD2_BLOBS)
    save(root / "train/10001.png", colour(40, 50, 60))
    save(root / "train/10001_GT.png", boxes())
    save(root / "train/10002.png", colour(70, 80, 90))
    save(root / "train/10002_GT.png", boxes())
    save(root / "test/20000.png", colour(100, 110, 120))
    save(root / "test/20000_GT.png", boxes((slice(5, 7), slice(0, 16))))
    save(root / "test/20001.png", colour(130, 140, 150))
    save(root / "test/20001_GT.png", boxes())
    return root


# DAGM 2007: Class{k}/{Train,Test}/{nnnn}.PNG, Label/Labels.txt, Label/{nnnn}_label.PNG (ellipses)
def dagm_ellipse(centre: tuple[int, int], axes: tuple[int, int], h: int = H, w: int = W) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, centre, axes, 30, 0, 360, 255, thickness=-1)
    return mask


DAGM_TRAIN_LABEL = dagm_ellipse((5, 6), (4, 2))
DAGM_TEST_LABEL = dagm_ellipse((10, 4), (3, 2))


def labels_txt(class_number: int, rows: list[tuple[str, int, str]]) -> str:
    """Labels.txt: the class number, then "index<TAB>flag<TAB>image<TAB>0<TAB>label-or-0" rows."""
    lines = [str(class_number)]
    lines += [f"{i}\t{flag}\t{image}\t0\t{label or 0}" for i, (image, flag, label) in enumerate(rows, start=1)]
    return "\n".join(lines) + "\n"


def build_dagm(root: Path) -> Path:
    train = root / "Class1/Train"
    save(train / "0001.PNG", grey(10))
    save(train / "0002.PNG", grey(20))
    save(train / "Label/0001_label.PNG", DAGM_TRAIN_LABEL)
    (train / "Label/Labels.txt").write_text(labels_txt(1, [("0001.PNG", 1, "0001_label.PNG"), ("0002.PNG", 0, "")]))
    test = root / "Class1/Test"
    save(test / "0001.PNG", grey(30))
    save(test / "Label/0001_label.PNG", DAGM_TEST_LABEL)
    (test / "Label/Labels.txt").write_text(labels_txt(1, [("0001.PNG", 1, "0001_label.PNG")]))
    nested = root / "Class2/Class2/Train"  # some archives extract into a folder of their own name
    save(nested / "0001.PNG", grey(40))
    write(nested / "Label/Labels.txt", labels_txt(2, [("0001.PNG", 0, "")]))
    return root


# Magnetic Tile: MT_{Class}/Imgs/{stem}.jpg + {stem}.png
MT_BLOWHOLE = boxes((slice(4, 7), slice(5, 8)))
MT_CRACK = boxes((slice(0, 3), slice(0, 2)), (slice(9, 12), slice(13, 16)))


def build_magnetic_tile(root: Path) -> Path:
    base = root / "Magnetic-tile-defect-datasets.-master"  # the repository archive's own folder
    save(base / "MT_Blowhole/Imgs/exp1_num_1.jpg", grey(100))
    save(base / "MT_Blowhole/Imgs/exp1_num_1.png", MT_BLOWHOLE)
    save(base / "MT_Blowhole/Imgs/exp1_num_2.jpg", grey(110))
    save(base / "MT_Blowhole/Imgs/exp1_num_2.png", MT_BLOWHOLE)
    save(base / "MT_Crack/Imgs/exp2_num_1.jpg", grey(120))
    save(base / "MT_Crack/Imgs/exp2_num_1.png", MT_CRACK)
    save(base / "MT_Crack/Imgs/exp2_num_2.jpg", grey(130))
    save(base / "MT_Crack/Imgs/exp2_num_2.png", MT_CRACK)
    for k in range(4):
        save(base / f"MT_Free/Imgs/exp3_num_{k}.jpg", grey(140 + 10 * k))
        save(base / f"MT_Free/Imgs/exp3_num_{k}.png", boxes())
    return root


# Severstal: train_images/{ImageId}.jpg + train.csv (ImageId, ClassId, EncodedPixels), column-major runs
SEVERSTAL_RUNS = {  # (image, class) -> run-length string for an H x W image
    ("a1.jpg", "1"): "1 3",  # column 0, rows 0-2
    ("a1.jpg", "3"): f"{5 * H + 5} 4",  # column 5, rows 4-7
    ("c3.jpg", "4"): f"{H + 1} 2 {10 * H + 9} 3",  # column 1 rows 0-1; column 10 rows 8-10
}


def severstal_expected(image: str) -> dict[str, np.ndarray]:
    """The planted runs of an image, per class, as bool masks drawn independently of the decoder."""
    expected = {}
    if image == "a1.jpg":
        expected["1"] = boxes((slice(0, 3), slice(0, 1))) > 0
        expected["3"] = boxes((slice(4, 8), slice(5, 6))) > 0
    if image == "c3.jpg":
        expected["4"] = boxes((slice(0, 2), slice(1, 2)), (slice(8, 11), slice(10, 11))) > 0
    return expected


def build_severstal(root: Path, old_format: bool = False) -> Path:
    for k, name in enumerate(("a1.jpg", "b2.jpg", "c3.jpg")):
        save(root / "train_images" / name, colour(60 + k, 60 + k, 60 + k))
    if old_format:  # the first release: ImageId_ClassId, four rows per image
        lines = ["ImageId_ClassId,EncodedPixels"]
        for name in ("a1.jpg", "b2.jpg", "c3.jpg"):
            lines += [f"{name}_{c},{SEVERSTAL_RUNS.get((name, str(c)), '')}" for c in range(1, 5)]
    else:
        lines = ["ImageId,ClassId,EncodedPixels"]
        lines += [f"{name},{cls},{runs}" for (name, cls), runs in SEVERSTAL_RUNS.items()]
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    (root / "test_images").mkdir()
    return root


# Fraunhofer plates: LabelMe JSON beside the images, one folder per plate
PLATE_H, PLATE_W = 20, 24
PLATE_SQUARE = [[2, 3], [8, 3], [8, 7], [2, 7]]  # x, y: fills rows 3-7, columns 2-8 (edges included)
PLATE_STAIN_A = [[12, 2], [16, 2], [16, 5], [12, 5]]
PLATE_STAIN_B = [[12, 12], [15, 12], [15, 14], [12, 14]]
PLATE_STICKER = [[4, 10], [10, 16]]  # rectangle corners


def labelme(shapes: list[dict], image_path: str) -> str:
    return json.dumps(
        {
            "version": "5.5.0",
            "flags": {},
            "shapes": shapes,
            "imagePath": image_path,
            "imageData": None,
            "imageHeight": PLATE_H,
            "imageWidth": PLATE_W,
        }
    )


def shape(label: str, points: list[list[float]], kind: str = "polygon", group: int | None = None) -> dict:
    return {"label": label, "points": points, "group_id": group, "shape_type": kind, "flags": {}}


def build_plates(root: Path, extra_label: str | None = None) -> Path:
    side = root / "plate01/side_a"
    save(side / "img_000.png", grey(50, PLATE_H, PLATE_W))
    shapes = [
        shape("scratch", PLATE_SQUARE),
        shape("water stain", PLATE_STAIN_A, group=1),
        shape("water stain", PLATE_STAIN_B, group=1),  # the same stain, in two parts
    ]
    if extra_label:
        shapes.append(shape(extra_label, PLATE_STAIN_B))
    # saved by labelme in a folder of its own: found through imagePath (Windows separators) only
    write(root / "plate01/labelme/img_000.json", labelme(shapes, "..\\side_a\\img_000.png"))
    save(side / "img_001.png", grey(60, PLATE_H, PLATE_W))
    (side / "img_001.json").write_text(labelme([shape("Sticker", PLATE_STICKER, "rectangle")], "img_001.png"))
    save(root / "plate02/img_000.png", grey(70, PLATE_H, PLATE_W))  # a clean plate: no LabelMe file
    return root


# Paint defects: Roboflow COCO export, {train,valid,test}/_annotations.coco.json beside the images, or YOLOv8 export,
# data.yaml + {train,valid,test}/{images,labels}
PAINT_CATEGORIES = [
    {"id": 0, "name": "paint-defects", "supercategory": "none"},  # Roboflow's umbrella category
    {"id": 1, "name": "dirt", "supercategory": "paint-defects"},
    {"id": 2, "name": "runs", "supercategory": "paint-defects"},
    {"id": 3, "name": "scratch", "supercategory": "paint-defects"},
    {"id": 4, "name": "water marks", "supercategory": "paint-defects"},
]
PAINT_DIRT_BOX = [2, 3, 5, 4]  # x, y, w, h: rows 3-6, columns 2-6
PAINT_WATER_BOX = [10, 1, 4, 3]  # given as a polygon on its own corners: still a box
PAINT_RUN_POLYGON = [3, 2, 9, 2, 9, 8, 6, 8, 6, 5, 3, 5]  # an L: rows 2-5 x columns 3-9, rows 5-8 x columns 6-9


def coco(images: list[tuple[int, str]], annotations: list[dict], categories: list[dict] | None = None) -> str:
    return json.dumps(
        {
            "info": {"description": "test export"},
            "licenses": [],
            "categories": categories or PAINT_CATEGORIES,
            "images": [{"id": i, "file_name": name, "width": W, "height": H} for i, name in images],
            "annotations": annotations,
        }
    )


def annotation(ann_id: int, image_id: int, category: int, bbox: list[float], segmentation: list | None = None) -> dict:
    x, y, w, h = bbox
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category,
        "bbox": bbox,
        "area": w * h,
        "segmentation": segmentation or [],
        "iscrowd": 0,
    }


PAINT_WATER_RING = [10, 1, 14, 1, 14, 4, 10, 4]  # PAINT_WATER_BOX's corners
PAINT_EXPORT = {  # split folder -> images: (file, grey value, objects: (category id, bbox, segmentation or None))
    "train": [
        ("t1_jpg.rf.aa11.jpg", 10, [(1, PAINT_DIRT_BOX, None)]),
        ("t2_jpg.rf.bb22.jpg", 20, [(3, [1, 8, 6, 2], None), (4, PAINT_WATER_BOX, [PAINT_WATER_RING])]),
    ],
    "valid": [("v1_jpg.rf.cc33.jpg", 30, [(2, [3, 2, 6, 6], [PAINT_RUN_POLYGON])])],
    "test": [("e1_jpg.rf.dd44.jpg", 40, [])],
}
# Camera stems repeated as in the public copy: DSC_0013 twice in train, DSC_0021 in train and valid. In the second
# DSC_0013 a scratch box covers a dirt box whole (no instance left) and a runs box covers the scratch's pixel (3, 3).
PAINT_REPEATS = {
    "train": [
        ("DSC_0013_JPG.rf.88e3.jpg", 50, []),
        ("DSC_0013_JPG.rf.c92d.jpg", 60, [(1, [4, 4, 2, 2], None), (3, [3, 3, 6, 4], None), (2, [0, 0, 4, 4], None)]),
        ("DSC_0021_JPG.rf.1a2b.jpg", 70, []),
    ],
    "valid": [("DSC_0021_JPG.rf.3c4d.jpg", 80, [(3, [1, 8, 6, 2], None)])],
}
PAINT_YOLO_NAMES = ["dirt", "runs", "scratch", "water marks"]  # class i: COCO category i + 1, as v1's data.yaml has it


def paint_images(repeats: bool) -> dict[str, list]:
    return {
        folder: images + (PAINT_REPEATS.get(folder, []) if repeats else []) for folder, images in PAINT_EXPORT.items()
    }


def build_paint(root: Path, unknown_category: bool = False, repeats: bool = False) -> Path:
    """PAINT_EXPORT (and PAINT_REPEATS) as Roboflow's COCO export."""
    for folder, images in paint_images(repeats).items():
        annotations = []
        for image_id, (name, value, objects) in enumerate(images):
            save(root / folder / name, colour(value, value, value))
            for category, bbox, segmentation in objects:
                annotations.append(annotation(len(annotations) + 1, image_id, category, bbox, segmentation))
        categories = None
        if folder == "train" and unknown_category:
            categories = PAINT_CATEGORIES + [{"id": 5, "name": "rust", "supercategory": "x"}]
            annotations.append(annotation(len(annotations) + 1, 1, 5, [0, 0, 2, 2]))
        files = [(image_id, name) for image_id, (name, _, _) in enumerate(images)]
        (root / folder / "_annotations.coco.json").write_text(coco(files, annotations, categories))
    (root / "README.roboflow.txt").write_text("exported from roboflow\n")
    return root


def yolo_line(category: int, bbox: list[float], segmentation: list | None) -> str:
    """An object as a YOLO label line, normalised with 6 decimals as Roboflow writes them: its polygon, else its box."""
    if segmentation:
        values = [v / (W if k % 2 == 0 else H) for k, v in enumerate(segmentation[0])]
    else:
        x, y, w, h = bbox
        values = [(x + w / 2) / W, (y + h / 2) / H, w / W, h / H]
    return " ".join([str(category - 1), *(f"{v:.6f}" for v in values)])


def build_paint_yolo(root: Path, names: str = "list", repeats: bool = False) -> Path:
    """The export of `build_paint` as Roboflow's YOLOv8 export (boxes and polygons mixed in a file), data.yaml's
    names as a list or as a mapping (written out of order: the keys, not the order, give the classes)."""
    if names == "list":
        names_yaml = f"nc: 4\nnames: {PAINT_YOLO_NAMES!r}\n"
    else:
        names_yaml = "names:\n" + "".join(f"  {i}: {PAINT_YOLO_NAMES[i]}\n" for i in (3, 0, 2, 1))
    write(
        root / "data.yaml",
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\n"
        + names_yaml
        + "\nroboflow:\n  workspace: poli-h7nww\n  project: final-year-car-paint-defect\n  version: 1\n"
        "  license: CC BY 4.0\n",
    )
    for folder, images in paint_images(repeats).items():
        for name, value, objects in images:
            save(root / folder / "images" / name, colour(value, value, value))
            lines = "".join(f"{yolo_line(*o)}\n" for o in objects)
            write(root / folder / "labels" / f"{Path(name).stem}.txt", lines)
    (root / "README.roboflow.txt").write_text("exported from roboflow\n")
    return root

"""Numbers reported by the paper (Lin et al., Pattern Recognition 2019), as printed.

Everything here is quoted from the paper, not computed; the book labels it "reported by the
paper" wherever it appears. Sources: the tables and figure readings in ``shared/PAPER.md``
(§6 tables, §7 figures, §9 timing), which also lists the paper's errata. ``None`` marks a
cell the paper leaves empty ("–").
"""

from __future__ import annotations

import pandas as pd

from ..data.records import DATASET_LABELS  # noqa: F401 - the book reads the names from here

REPORTED = "reported by the paper"

# Table 1: Market-1501 (method, venue, backbone, R-1, R-5, R-10, mAP)
_TABLE1 = [
    ("MBC [47]", "AVSS2017", "*", 45.56, 67, 76, 26.11),
    ("SML [48]", "ECCV2016", "–", 45.16, 68.12, 76, None),
    ("SL [49]", "CVPR2016", "–", 51.9, None, None, 26.35),
    ("Attri [16]", "ICPR2016", "AlexNet", 58.84, None, None, 33.04),
    ("S-CNN [23]", "ECCV2016", "*", 65.88, None, None, 39.55),
    ("2Stream [20]", "TOMM2017", "Res50", 79.51, 90.91, 94.09, 59.87),
    ("Cont-aware [50]", "CVPR2017", "*", 80.31, None, None, 57.53),
    ("Part-align [51]", "ICCV2017", "GoogLeNet", 81.0, 92.0, 94.7, 63.4),
    ("SVDNet [52]", "ICCV2017", "Res50", 82.3, 92.3, 95.2, 62.1),
    ("GAN [35]", "ICCV2017", "Res50", 83.97, None, None, 66.07),
    ("EBB [53]", "CVPR2018", "Inception", 81.2, 94.6, 97.0, None),
    ("DSR [54]", "CVPR2018", "Res50", 82.72, None, None, 61.25),
    ("AACN [32]", "CVPR2018", "GoogLeNet", 85.90, None, None, 66.87),
    ("Baseline 1 (IDE)", "–", "CaffeNet", 54.76, 73.28, 82.04, 28.75),
    ("Baseline 1 (IDE)", "–", "Res50", 80.16, 92.03, 94.98, 57.82),
    ("Baseline 2 (ARN)", "–", "Res50", 49.76, 70.07, 77.767, 23.95),  # R-10 printed "77.767" (erratum 3)
    ("APR", "–", "CaffeNet", 59.32, 78.26, 85.03, 32.85),
    ("APR (w/o attri)", "–", "Res50", 81.03, 91.29, 94.28, 58.74),
    ("APR (w/o ARM)", "–", "Res50", 85.71, 94.32, 96.46, 66.59),
    ("APR", "–", "Res50", 87.04, 95.10, 96.42, 66.89),
]

# Table 2: DukeMTMC-reID (method, backbone, R-1, mAP); are not reported
_TABLE2 = [
    ("BoW+kissme [17]", "–", 25.13, 12.17),
    ("LOMO+XQDA [55]", "–", 30.75, 17.04),
    ("AttrCombine [16]", "AlexNet", 53.87, 33.35),
    ("GAN [35]", "Res50", 67.68, 47.13),
    ("SVDNet [52]", "Res50", 76.7, 56.8),
    ("Baseline 1 (IDE)", "Res50", 64.22, 43.50),
    ("Baseline 2 (ARN)", "Res50", 46.14, 24.17),
    ("APR (w/o ARM)", "Res50", 73.56, 54.79),
    ("APR", "Res50", 73.92, 55.56),
]

# Table 3: PETA with the authors' (unpublished) re-ID split, ResNet-50 (method, R-1, R-5, R-10, mAP). As printed:
# APR's R-5 (78.34) above its R-10 (75.73) cannot happen on a CMC curve (PAPER.md errata; kept, not corrected).
_TABLE3 = [
    ("Baseline 1 (IDE)", 53.90, 68.32, 73.04, 49.60),
    ("Baseline 2 (ARN)", 43.30, 60.08, 70.23, 39.52),
    ("APR (w/o ARM)", 56.91, 72.10, 78.48, 53.81),
    ("APR", 58.05, 78.34, 75.73, 55.84),
]

# Tables 4 and 5: attribute accuracy (%) per evaluation group, ARN (Baseline 2) and APR
_TABLE4_GROUPS = ("gender", "age", "hair", "L.slv", "L.low", "S.clth", "B.pack", "H.bag", "bag", "hat", "C.up", "C.low")
_TABLE4 = {"Baseline 2 (ARN)": (87.5, 85.8, 84.2, 93.5, 93.6, 93.6, 86.6, 88.1, 78.6, 97.0, 72.4, 71.7, 86.0),
           "APR": (88.9, 88.6, 84.4, 93.6, 93.7, 92.8, 84.9, 90.4, 76.4, 97.1, 74.0, 73.8, 86.6)}
_TABLE5_GROUPS = ("gender", "hat", "boots", "L.up", "B.pack", "H.bag", "bag", "C.shoes", "C.up", "C.low")
_TABLE5 = {"Baseline 2 (ARN)": (82.0, 85.5, 88.3, 86.2, 77.5, 92.3, 82.2, 87.6, 73.4, 68.3, 82.3),
           "APR": (84.2, 87.6, 87.5, 88.4, 75.8, 93.4, 82.9, 89.7, 74.2, 69.9, 83.4)}

# Fig. 6: leave-one-attribute-out, change of rank-1 (points) when the attribute is removed
FIG6_MARKET_BASE = 87.04
FIG6_MARKET = {"male/female": -1.34, "age": -0.29, "sleeve length": -1.39, "lower-body length": -1.04,
               "pants/dress": -1.84, "hair length": -1.35, "bag (all types)": -2.14, "hat": 0.06,
               "upper-body colour": -0.73, "lower-body colour": -0.79}
FIG6_DUKE_BASE = 73.92
FIG6_DUKE = {"male/female": -0.9, "coat": -1.13, "bag (all types)": -0.27, "hat": -0.11, "boots": -0.57,
             "colour of shoes": -1.49, "upper-body colour": -0.27, "lower-body colour": -0.41}

# Fig. 7: lambda sweep on the Market-1501 validation split (read from the vector figure, +-0.05)
FIG7_LAMBDA = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
FIG7_RANK1 = (67.33, 73.47, 76.52, 79.35, 85.33, 87.37, 92.45, 94.01, 94.92, 94.52, 90.25)
FIG7_MAP = (60.32, 66.57, 69.33, 73.32, 80.14, 81.12, 87.01, 87.70, 87.91, 88.03, 85.44)

# Fig. 8: Market-1501+500k, read off the raster figure (±0.3). "Baseline 1" there is the older ResNet-50 IDE of
# the Zheng-lab 500k page (73.69 / 51.48), not Table 1's 80.16 / 57.82, and APR is an older model (84.2 / 65.1).
FIG8_GALLERY = (19_732, 119_732, 219_732, 519_732)
FIG8 = {
    "APR": {"rank1": (84.2, 79.3, 77.4, 75.6), "mAP": (65.1, 56.5, 54.3, 50.3)},
    "2stream": {"rank1": (79.5, 73.8, 71.5, 68.3), "mAP": (59.9, 52.3, 49.1, 45.1)},
    "Baseline 1": {"rank1": (73.7, 72.1, 71.6, 70.6), "mAP": (51.5, 48.7, 47.6, 46.1)},
}
# DERIVED: how much more APR's rank-1 falls than Baseline 1's from 19.7k to 519.7k images:
# (75.6 − 84.2) − (70.6 − 73.7).
FIG8_RANK1_FALL_GAP = round((FIG8["APR"]["rank1"][-1] - FIG8["APR"]["rank1"][0])
                            - (FIG8["Baseline 1"]["rank1"][-1] - FIG8["Baseline 1"]["rank1"][0]), 2)

# Fig. 9: attribute acceleration on Market-1501 (tau, % of gallery kept, rank-1); full gallery 87.04
FIG9_TAU = (0.1, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
FIG9_GALLERY_PCT = (0.42, 0.85, 1.46, 3.15, 3.70, 8.67, 21.2, 30.6, 40.0, 62.5, 77.9)
FIG9_RANK1 = (64.4, 67.9, 70.2, 77.3, 79.8, 84.1, 85.8, 86.1, 86.2, 86.3, 86.3)
FIG9_FULL_RANK1 = 87.04

# §5.3.5 timing on an Intel i7-6850K, Market-1501, 3,368 queries
TIMING = {"full_s_per_query": 0.273, "tau_0.7_s_per_query": 0.026, "full_total_s": 919.86, "tau_0.7_total_s": 90.26,
          "tau_0.7_gallery_pct": 8.68, "tau_0.7_rank1_drop": 2.92}


def table1() -> pd.DataFrame:
    """Table 1 (Market-1501) as printed, one row per method."""
    return pd.DataFrame(_TABLE1, columns=["method", "venue", "backbone", "R-1", "R-5", "R-10", "mAP"])


def table2() -> pd.DataFrame:
    """Table 2 (DukeMTMC-reID) as printed; the paper gives rank-1 and mAP only."""
    return pd.DataFrame(_TABLE2, columns=["method", "backbone", "R-1", "mAP"])


def table3() -> pd.DataFrame:
    """Table 3 (PETA, the authors' re-ID split) as printed, ResNet-50 rows only."""
    return pd.DataFrame(_TABLE3, columns=["method", "R-1", "R-5", "R-10", "mAP"]).assign(backbone="Res50")


def attribute_table(dataset: str) -> pd.DataFrame:
    """Table 4 (``market1501``) or Table 5 (``dukemtmc``): accuracy (%) per group and their mean."""
    tables = {"market1501": (_TABLE4_GROUPS, _TABLE4), "dukemtmc": (_TABLE5_GROUPS, _TABLE5)}
    if dataset not in tables:
        raise ValueError(f"the paper reports attribute accuracy per group for market1501 and dukemtmc, not {dataset!r}")
    groups, rows = tables[dataset]
    return pd.DataFrame(rows, index=[*groups, "Avg"]).T


def fig6(dataset: str) -> dict[str, float]:
    """Fig. 6's change of rank-1 per attribute left out: DukeMTMC-reID's for ``dukemtmc``, else Market-1501's."""
    return FIG6_DUKE if dataset == "dukemtmc" else FIG6_MARKET


def headline(dataset: str) -> dict[str, tuple[float, float]]:
    """(rank-1, mAP) of IDE, ARN, APR w/o ARM and APR with ResNet-50 on ``dataset``."""
    if dataset == "market1501":
        rows = {r[0]: (r[3], r[6]) for r in _TABLE1 if r[2] == "Res50"}
    elif dataset == "dukemtmc":
        rows = {r[0]: (r[2], r[3]) for r in _TABLE2}
    elif dataset == "peta":
        rows = {r[0]: (r[1], r[4]) for r in _TABLE3}
    else:
        raise ValueError(f"headline numbers are kept for market1501, dukemtmc and peta, not {dataset!r}")
    return {"ide": rows["Baseline 1 (IDE)"], "arn": rows["Baseline 2 (ARN)"], "apr_no_arm": rows["APR (w/o ARM)"],
            "apr": rows["APR"]}

# Fig. 3 bars: positive training identities per non-colour attribute value (PAPER.md §7, exact to ±1 ID).
# Keys are this package's value names (apr.book.annotation_stats.positive_counts).
FIG3_MARKET = {"female": 320, "long hair": 245, "long sleeve": 39, "long lower-body": 294, "dress": 110, "young": 14,
               "teenager": 569, "adult": 160, "old": 8, "backpack": 199, "handbag": 86, "other bag": 185, "hat": 20}
FIG3_DUKE = {"female": 308, "boots": 191, "bright shoes": 104, "long coat": 107, "backpack": 455, "handbag": 30,
             "other bag": 118, "hat": 104}

# Fig. 4: the numbers printed in the cells, P(column | row) over training identities (PAPER.md §7), rows and
# columns in apr.book.annotation_stats.FIG4_ATTRIBUTES order; the last two of each are colour attributes.
FIG4_MARKET = (
    (1.0, 0.0, 0.01, 0.73, 0.3, 0.15, 0.0, 0.44, 0.97, 0.11, 0.45),
    (0.0, 1.0, 0.75, 0.79, 0.22, 0.38, 0.34, 0.33, 0.91, 0.19, 0.38),
    (0.02, 0.98, 1.0, 0.85, 0.23, 0.4, 0.37, 0.31, 0.9, 0.19, 0.38),
    (0.55, 0.45, 0.37, 1.0, 0.34, 0.23, 0.15, 0.3, 0.95, 0.15, 0.39),
    (0.64, 0.36, 0.28, 0.96, 1.0, 0.0, 0.11, 0.31, 0.95, 0.13, 0.39),
    (0.34, 0.66, 0.53, 0.71, 0.0, 1.0, 0.25, 0.42, 0.95, 0.14, 0.41),
    (0.0, 1.0, 0.83, 0.78, 0.2, 0.42, 1.0, 0.14, 0.9, 0.21, 0.34),
    (0.65, 0.35, 0.26, 0.57, 0.21, 0.26, 0.05, 1.0, 0.94, 0.11, 0.48),
    (0.59, 0.41, 0.31, 0.76, 0.27, 0.25, 0.14, 0.39, 1.0, 0.13, 0.41),
    (0.44, 0.56, 0.44, 0.78, 0.24, 0.24, 0.21, 0.29, 0.87, 1.0, 0.27),
    (0.62, 0.38, 0.3, 0.71, 0.25, 0.24, 0.12, 0.45, 0.94, 0.09, 1.0),
)
FIG4_DUKE = (
    (1.0, 0.0, 0.19, 0.69, 0.11, 0.06, 0.07, 0.13, 0.06, 0.31),
    (0.0, 1.0, 0.09, 0.6, 0.24, 0.55, 0.26, 0.17, 0.08, 0.57),
    (0.72, 0.28, 1.0, 0.55, 0.18, 0.16, 0.16, 0.21, 0.1, 0.48),
    (0.6, 0.4, 0.13, 1.0, 0.0, 0.27, 0.1, 0.16, 0.07, 0.41),
    (0.37, 0.63, 0.16, 0.0, 1.0, 0.34, 0.31, 0.12, 0.08, 0.47),
    (0.12, 0.88, 0.09, 0.65, 0.21, 1.0, 0.24, 0.03, 0.07, 0.63),
    (0.26, 0.74, 0.16, 0.44, 0.35, 0.43, 1.0, 0.16, 0.07, 0.6),
    (0.5, 0.5, 0.21, 0.71, 0.13, 0.05, 0.16, 1.0, 0.08, 0.41),
    (0.5, 0.5, 0.2, 0.64, 0.18, 0.26, 0.16, 0.16, 1.0, 0.4),
    (0.41, 0.59, 0.17, 0.62, 0.18, 0.4, 0.21, 0.14, 0.07, 1.0),
)

# Mean attribute accuracy (%), Baseline 2 (ARN) and APR, per dataset: Tables 4 (Market-1501), 5 (DukeMTMC-reID),
# 6 (PETA, 35 attributes) and 7 (CUB-200-2011, 28 groups).
ATTRIBUTE_MEANS = {"market1501": ("Table 4", 86.0, 86.6), "dukemtmc": ("Table 5", 82.3, 83.4),
                   "peta": ("Table 6", 84.45, 84.94), "cub200": ("Table 7", 87.31, 89.12)}

# Differences the paper reports between its models, per dataset (Tables 1-6, §5.3); None: not reported.
GAPS = {
    "market1501": {"ide_r1": 6.88, "ide_map": 66.89 - 57.82, "arn_r1": 37.28, "arm_r1": 1.33, "arm_map": 0.30,
                   "attr_r1": 87.04 - 81.03, "attr_acc": 86.6 - 86.0},
    "dukemtmc": {"ide_r1": 9.7, "ide_map": 55.56 - 43.50, "arn_r1": 27.78, "arm_r1": 0.36, "arm_map": 0.77,
                 "attr_r1": None, "attr_acc": 83.4 - 82.3},
    # Table 3 and Table 6 (the text's +14.65 over ARN disagrees with the table's 58.05 - 43.30; the table is used).
    "peta": {"ide_r1": 58.05 - 53.90, "ide_map": 55.84 - 49.60, "arn_r1": 58.05 - 43.30, "arm_r1": 58.05 - 56.91,
             "arm_map": 55.84 - 53.81, "attr_r1": None, "attr_acc": 84.94 - 84.45},
}

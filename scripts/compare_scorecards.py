"""Do two builds tell the same story? Compare their ``claims.csv`` row by row.

    .venv/bin/python scripts/compare_scorecards.py figures/claims.csv other/claims.csv [--names default other]

Prints one Markdown row per claim: each build's value, interval and verdict, whether the verdicts agree, and
whether each build's value lies inside the other build's 95% interval (rows without an interval, such as a single
wall-clock timing: "–"). Where the
scorecards carry it (column ``agreement``), the last line names each differing verdict with both builds' estimate
of how often a rebuild gives their verdict again: a verdict near the line between two (about 50%) can differ.
Exits 1 when a verdict differs or a value falls outside the other's interval, so a script can check it.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd


def _inside(value: float, low: float, high: float) -> str:
    if pd.isna(value) or pd.isna(low) or pd.isna(high) or low == high:    # low == high: one timing, no interval
        return "–"
    return "yes" if low <= value <= high else "no"


def _cell(row: pd.Series) -> str:
    if pd.isna(row["measured"]):
        return "–"
    interval = "" if pd.isna(row["low"]) else f" [{row['low']:+.2f}, {row['high']:+.2f}]"
    return f"{row['measured']:+.2f}{interval}"


def compare(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str]) -> tuple[pd.DataFrame, bool]:
    """Side-by-side table of two scorecards, and whether they agree (same verdicts, values inside each other)."""
    a, b = a.set_index("claim"), b.set_index("claim")
    missing = sorted(set(a.index) ^ set(b.index))
    if missing:
        raise ValueError(f"the scorecards have different claims: {missing}")
    rows = []
    for claim in a.index:
        x, y = a.loc[claim], b.loc[claim]
        rows.append({"claim": claim, names[0]: _cell(x), f"verdict ({names[0]})": x["verdict"],
                     names[1]: _cell(y), f"verdict ({names[1]})": y["verdict"],
                     "same verdict": "yes" if x["verdict"] == y["verdict"] else "no",
                     f"{names[0]} inside {names[1]}'s interval": _inside(x["measured"], y["low"], y["high"]),
                     f"{names[1]} inside {names[0]}'s interval": _inside(y["measured"], x["low"], x["high"])})
    table = pd.DataFrame(rows)
    agree = not (table.iloc[:, -3:] == "no").any().any()
    return table, agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--names", nargs=2, default=("first", "second"), metavar=("FIRST", "SECOND"))
    args = parser.parse_args()
    try:
        first, second = pd.read_csv(args.first), pd.read_csv(args.second)
        table, agree = compare(first, second, tuple(args.names))
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"compare_scorecards: {exc}")
    print("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns))
    for _, row in table.iterrows():
        print("| " + " | ".join(str(v) for v in row) + " |")
    same = (table["same verdict"] == "yes").sum()
    print(f"\n{same} of {len(table)} verdicts agree; "
          f"{'every value lies inside the other build' + chr(39) + 's interval' if agree else 'some do not agree'}.")
    for claim, shares in differing_agreement(table, first, second).items():
        print(f"- verdicts differ on '{claim}': a rebuild gives the same verdict in an estimated {shares}")
    sys.exit(0 if agree else 1)


def differing_agreement(table: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame) -> dict[str, str]:
    """For each claim whose verdicts differ, both builds' estimated rebuild agreement ("58% / 72%"), where known."""
    out = {}
    if "agreement" not in a.columns or "agreement" not in b.columns:
        return out
    shares = [x.set_index("claim")["agreement"] for x in (a, b)]
    for claim in table.loc[table["same verdict"] == "no", "claim"]:
        values = [s.get(claim) for s in shares]
        if all(v is not None and not pd.isna(v) for v in values):
            out[claim] = " / ".join(f"{100 * v:.0f}%" for v in values)
    return out


if __name__ == "__main__":
    main()

"""Looking at runs: training curves in the paper's style (Figures 4 and 6: thin dashed
lines for training error, bold lines for the held-out error, in % against epochs). The
bold line is the run's validation set: its holdout of the training data, or the test set
for a run trained with ``--holdout 0`` (the legend says which)."""

from __future__ import annotations

import csv
import os

from .. import rundir
from ..io import atomic_write


def read_log(run_dir: str) -> dict[str, list[float]]:
    """``log.csv`` of a run as columns (``epoch``, ``accuracy``, ``val_accuracy``, ...)."""
    path = os.path.join(run_dir, rundir.LOG)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: is {run_dir!r} a run directory of "
                                "keras-resnet train?")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no finished epochs yet")
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def _validation_name(run_dir) -> str:
    """"validation" (a holdout of the training data) or "validation (test set)"."""
    import json

    try:
        with open(os.path.join(run_dir, rundir.CONFIG)) as f:
            uses_test = json.load(f).get("validation") == "test"
    except (OSError, ValueError):
        uses_test = False
    return "validation (test set)" if uses_test else "validation"


def plot_runs(run_dirs, out: str, labels=None, title: str | None = None) -> str:
    """Training (dashed) and validation (solid) top-1 error of one or more runs in one
    PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = labels or [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (d, label) in enumerate(zip(run_dirs, labels)):
        log = read_log(d)
        epochs = [e + 1 for e in log["epoch"]]
        c = colors[i % len(colors)]
        ax.plot(epochs, [100 * (1 - a) for a in log["accuracy"]], "--", lw=1, color=c,
                label=f"{label} train")
        if "val_accuracy" in log:
            ax.plot(epochs, [100 * (1 - a) for a in log["val_accuracy"]], "-", lw=2.2,
                    color=c, label=f"{label} {_validation_name(d)}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.set_title(title or "training (dashed) and validation (bold) error")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(out, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)
    return out


def plot_run(run_dir: str, out: str | None = None) -> str:
    return plot_runs([run_dir], out or os.path.join(run_dir, "curves.png"))

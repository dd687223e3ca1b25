"""PNG plots for evaluation reports (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np


def _figure(size: tuple[float, float] = (4.5, 4.0)) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=100)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def confusion_matrix_png(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str
) -> bytes:
    """Row-normalised confusion matrix (truth rows, prediction columns) with raw counts."""
    cm = np.asarray(matrix, dtype=float)
    with np.errstate(all="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    fig = _figure((6.0, 5.0))
    ax = fig.add_subplot()
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of truth row")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            colour = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=6, color=colour)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def reliability_png(
    calib: dict[str, Any], title: str, before: dict[str, Any] | None = None
) -> bytes:
    """Reliability diagram: fraction positive against mean predicted probability per bin
    (and, given ``before``, the uncalibrated model's curve beside it)."""
    edges = np.asarray(calib["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    frac = np.array([np.nan if v is None else v for v in calib["bin_fraction_positive"]])
    conf = np.array([np.nan if v is None else v for v in calib["bin_mean_probability"]])
    fig = _figure()
    ax = fig.add_subplot()
    ax.bar(
        centres,
        np.nan_to_num(frac),
        width=np.diff(edges),
        edgecolor="k",
        alpha=0.6,
        label="fraction positive",
    )
    ax.plot(conf, frac, "o-", color="C1", label="observed vs mean probability")
    if before is not None:
        b_frac = [np.nan if v is None else v for v in before["bin_fraction_positive"]]
        b_conf = [np.nan if v is None else v for v in before["bin_mean_probability"]]
        ax.plot(
            b_conf, b_frac, "s:", color="C3", label=f"before calibration (ECE {before['ece']:.3f})"
        )
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed fraction positive")
    ax.set_title(f"{title} (ECE {calib['ece']:.3f})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def roc_png(curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]], title: str) -> bytes:
    """ROC curves, ``{name: (fpr, tpr, auc)}``."""
    fig = _figure()
    ax = fig.add_subplot()
    for name, (fpr, tpr, auc) in curves.items():
        label = f"{name} (AUC {auc:.3f})" if auc is not None else name
        ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def bland_altman_png(quantities: dict[str, dict[str, Any]], unit: str, title: str) -> bytes:
    """Bland–Altman plots, one panel per quantity: difference (predicted - truth) against the
    mean of the two, with the bias and the 95% limits of agreement."""
    names = [n for n, q in quantities.items() if q.get("points")]
    cols = min(3, max(1, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig = _figure((3.6 * cols, 3.2 * rows))
    for k, name in enumerate(names, start=1):
        q = quantities[name]
        pred = np.asarray(q["points"]["predicted"], dtype=float)
        true = np.asarray(q["points"]["truth"], dtype=float)
        ax = fig.add_subplot(rows, cols, k)
        ax.scatter((pred + true) / 2, pred - true, s=12)
        ba = q["bland_altman"]
        if ba["bias"] is not None:
            ax.axhline(ba["bias"], color="C1", label=f"bias {ba['bias']:.2f}")
            ax.axhline(ba["loa_low"], color="C1", ls="--", label="95% limits")
            ax.axhline(ba["loa_high"], color="C1", ls="--")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel(f"mean of predicted and truth ({unit})", fontsize=7)
        ax.set_ylabel(f"predicted - truth ({unit})", fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return _png(fig)

"""Render an evaluation's metrics as report.json, report.md and PNG plots (file name -> bytes)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from training.plots import bland_altman_png, confusion_matrix_png, reliability_png, roc_png

DISCLAIMER = (
    "Predictions are an aid to the clinician, not a diagnosis. The non-healing (deep burn) "
    "contour is not an excision margin; treatment decisions remain with the clinician."
)

TERTILE_NOTE = (
    "Skin-pigmentation tertiles from the capture metadata's Fitzpatrick skin type: "
    "I-II (light), III-IV (medium), V-VI (dark). Only captures whose metadata records a "
    "Fitzpatrick type (e.g. phantom captures) enter the breakdown."
)


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _headline_md(head: dict[str, Any]) -> list[str]:
    rows = [
        ("Pixel accuracy (classes)", "accuracy"),
        ("Mean Dice over classes present (pooled)", "mean_dice"),
        ("Healing AUC (skin pixels)", "healing_auc"),
        ("Wound Dice, mean per image", "wound_dice_mean"),
        ("Wound Dice, pooled over pixels", "wound_dice_pooled"),
    ]
    lines = ["| Metric | Model | Spectral baseline |", "|---|---|---|"]
    for label, key in rows:
        if head.get(key) is None and head.get(f"baseline_{key}") is None:
            continue
        lines.append(f"| {label} | {_f(head.get(key))} | {_f(head.get(f'baseline_{key}'))} |")
    return lines


def _classes_md(seg: dict[str, Any]) -> list[str]:
    lines = [
        "| Class | Pixels | Dice (pooled) | IoU (pooled) | Dice (per-image mean) | "
        "IoU (per-image mean) |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in seg["per_class"].items():
        lines.append(
            f"| {name} | {v['support_pixels']} | {_f(v['dice_pooled'])} | {_f(v['iou_pooled'])} "
            f"| {_f(v['dice_per_image_mean'])} | {_f(v['iou_per_image_mean'])} |"
        )
    return lines


def _healing_md(h: dict[str, Any]) -> list[str]:
    cal = h.get("calibration") or {}
    return [
        f"Scope: {h.get('scope', 'pooled pixels')}; {h['pixels']} pixels, "
        f"{h['positives']} heal within 21 days.",
        "",
        f"- AUC: {_f(h['auc'])}",
        f"- Operating point threshold {h['threshold']:.2f}: sensitivity {_f(h['sensitivity'])}, "
        f"specificity {_f(h['specificity'])} (positive = heals within 21 days; for detecting "
        "non-healing tissue the two swap)",
        f"- Youden-optimal threshold on this validation set: {_f(h['youden_threshold'])} "
        f"(sensitivity {_f(h.get('youden_sensitivity'))}, "
        f"specificity {_f(h.get('youden_specificity'))}); choosing it here is optimistic.",
        f"- Expected calibration error ({cal.get('n_bins', '?')} equal-width bins): "
        f"{_f(cal.get('ece'))}"
        + (
            f" (before calibration: {_f(h['calibration_before']['ece'])})"
            if h.get("calibration_before")
            else ""
        ),
    ]


def _wound_md(w: dict[str, Any]) -> list[str]:
    p, m = w["pooled"], w["per_image_mean"]
    return [
        "| | Dice | IoU | Precision |",
        "|---|---|---|---|",
        f"| pooled over all pixels | {_f(p['dice'])} | {_f(p['iou'])} | {_f(p['precision'])} |",
        f"| mean of per-image scores | {_f(m['dice'])} | {_f(m['iou'])} | {_f(m['precision'])} |",
    ]


def _tertiles_md(model: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    groups = model.get("by_fitzpatrick") or {}
    if not groups:
        return []
    bgroups = (base or {}).get("by_fitzpatrick") or {}
    lines = [
        "## By skin pigmentation (Fitzpatrick tertile)",
        "",
        TERTILE_NOTE,
        "",
        "| Tertile | Captures | Accuracy | Healing AUC | Sens. | Spec. | ECE | Wound Dice "
        "(per-image mean) | Baseline accuracy | Baseline healing AUC |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g, m in groups.items():
        seg = m.get("depth") or m.get("segmentation") or {}
        h = m.get("healing") or {}
        w = (m.get("wound") or {}).get("per_image_mean") or {}
        b = bgroups.get(g) or {}
        bseg = b.get("depth") or b.get("segmentation") or {}
        lines.append(
            f"| {g} | {m['captures']} | {_f(seg.get('pixel_accuracy'))} | {_f(h.get('auc'))} | "
            f"{_f(h.get('sensitivity'))} | {_f(h.get('specificity'))} | "
            f"{_f((h.get('calibration') or {}).get('ece'))} | {_f(w.get('dice'))} | "
            f"{_f(bseg.get('pixel_accuracy'))} | {_f((b.get('healing') or {}).get('auc'))} |"
        )
    lines += ["", "Every metric per tertile is in report.json under `by_fitzpatrick`.", ""]
    return lines


def _calibration_md(cal: dict[str, Any] | None) -> list[str]:
    if not cal or not cal.get("fitted_on"):
        return [
            "## Calibration",
            "",
            "Not calibrated: temperature 1, operating point 0.5, indeterminate above 0.5.",
            "",
        ]
    fit = cal["fitted_on"]
    ind = fit.get("indeterminate") or {}
    op = fit.get("operating_point") or {}
    return [
        "## Calibration (fitted on held-out training subjects, not these)",
        "",
        f"Calibration split: {fit.get('captures')} captures of {fit.get('subjects')} subjects. "
        f"Healing temperature {cal['healing_temperature']:.3f}, class temperature "
        f"{cal['class_temperature']:.3f} (temperature scaling).",
        "",
        f"- Operating point {cal['healing_threshold']:.3f} ({cal['rule']}); on the calibration "
        f"split sensitivity {_f(op.get('sensitivity'))}, specificity {_f(op.get('specificity'))}; "
        f"ECE {_f(fit.get('ece_before'))} before, {_f(fit.get('ece_after'))} after.",
        f"- Indeterminate: uncertainty (the model's probability that a pixel's wound call or "
        f"healing verdict is wrong) "
        f"above {cal['uncertainty_threshold']:.3f} ({cal['uncertainty_rule']}); on the "
        f"calibration split {_pct(ind.get('share'))} of the wound flagged, error rate "
        f"{_pct(ind.get('error_rate_inside'))} inside vs {_pct(ind.get('error_rate_outside'))} "
        "outside.",
        "",
    ]


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _pm(value: Any) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _agreement_md(agree: dict[str, Any] | None) -> list[str]:
    if not agree or not agree.get("quantities"):
        return []
    unit = "cm²" if agree["unit"] == "cm2" else "px"
    lines = [
        "## Wound score vs truth (what the user reads)",
        "",
        f"Per held-out capture, the stored score's areas against the truth ({unit}); errors in "
        "% of the truth; Bland–Altman bias and 95% limits of agreement (bias ± 1.96 SD) of "
        "predicted - truth (bland_altman.png).",
        "",
        f"| Quantity | Predicted total ({unit}) | Truth total ({unit}) | Total error | "
        f"Median abs. error | Bias ({unit}) | 95% limits ({unit}) | Bias (%) | 95% limits (%) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, q in agree["quantities"].items():
        ba, bp = q["bland_altman"], q["bland_altman_pct"]
        lines.append(
            f"| {name} | {q['predicted_total']:.2f} | {q['truth_total']:.2f} | "
            f"{_pm(q['total_error_pct'])} | {_f(q['median_abs_error_pct'], 1)}% | "
            f"{_f(ba['bias'], 2)} | {_f(ba['loa_low'], 2)} to {_f(ba['loa_high'], 2)} | "
            f"{_pm(bp['bias'])} | {_pm(bp['loa_low'])} to {_pm(bp['loa_high'])} |"
        )
    ind = agree["indeterminate"]
    lines += [
        "",
        f"Indeterminate region: median share of the wound {_pct(ind['median_share'])}; "
        f"error rate of the readings inside {_pct(ind['error_rate_inside'])} vs outside "
        f"{_pct(ind['error_rate_outside'])} (ratio {_f(ind['error_ratio'], 1)}).",
        "",
    ]
    groups = agree.get("by_fitzpatrick") or {}
    if groups:
        lines += [
            "By skin-tone tertile:",
            "",
            "| Tertile | Captures | Wound area median abs. error | Wound area bias (%) | "
            "Unlikely to heal total error | Indeterminate median share | Error ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for g, a in groups.items():
            w = a["quantities"].get("wound area") or {}
            nh = a["quantities"].get("unlikely to heal") or {}
            lines.append(
                f"| {g} | {a['captures']} | {_f(w.get('median_abs_error_pct'), 1)}% | "
                f"{_pm((w.get('bland_altman_pct') or {}).get('bias'))} | "
                f"{_pm(nh.get('total_error_pct'))} | "
                f"{_pct(a['indeterminate']['median_share'])} | "
                f"{_f(a['indeterminate']['error_ratio'], 1)} |"
            )
        lines.append("")
    lines += ["Per capture: report.json, `model.score_agreement.per_capture`.", ""]
    return lines


def render_markdown(metrics: dict[str, Any]) -> str:
    """The human-readable report."""
    model, base = metrics["model"], metrics.get("baseline")
    title = metrics.get("model_id") or "model"
    lines = [
        f"# Evaluation of {title} ({metrics['task']})",
        "",
        f"> {DISCLAIMER}",
        "",
        f"Validation captures: {model['captures']}; labels: {metrics['labels']}; "
        f"bands: {', '.join(f'{w:g}' for w in metrics['wavelengths_nm'])} nm.",
        "",
        "## Headline",
        "",
        *_headline_md(metrics["headline"]),
        "",
        f"Baseline: {metrics['baseline_method']} (Squiers et al., SPIE 2016: LDA 70.5% accuracy).",
    ]
    if metrics.get("baseline_skipped"):
        lines.append(f"Baseline skipped: {metrics['baseline_skipped']}.")
    seg = model.get("depth") or model.get("segmentation")
    lines += ["", "## Classes", "", *_classes_md(seg), ""]
    lines += ["Confusion matrix: rows are truth, columns prediction (confusion_matrix.png).", ""]
    if "healing" in model:
        lines += ["## Healing (heals within 21 days)", "", *_healing_md(model["healing"]), ""]
        if base and "healing" in base:
            lines += ["Spectral baseline:", "", *_healing_md(base["healing"]), ""]
        lines += ["Plots: roc.png, reliability.png.", ""]
    lines += _calibration_md(metrics.get("calibration"))
    lines += _agreement_md(model.get("score_agreement"))
    if "wound" in model:
        lines += ["## Wound mask", "", *_wound_md(model["wound"]), ""]
        if base and "wound" in base:
            lines += ["Spectral baseline:", "", *_wound_md(base["wound"]), ""]
    lines += _tertiles_md(model, base)
    return "\n".join(lines) + "\n"


def render_report(
    metrics: dict[str, Any],
    curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]],
) -> dict[str, bytes]:
    """``report.json``, ``report.md`` and the PNG plots, as file name -> bytes."""
    model, base = metrics["model"], metrics.get("baseline")
    files: dict[str, bytes] = {
        "report.json": json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False).encode(),
        "report.md": render_markdown(metrics).encode(),
    }
    seg = model.get("depth") or model.get("segmentation")
    files["confusion_matrix.png"] = confusion_matrix_png(
        seg["confusion_matrix"], seg["confusion_matrix_labels"], "Model: truth vs prediction"
    )
    if base is not None:
        bseg = base.get("depth") or base.get("segmentation")
        files["baseline_confusion_matrix.png"] = confusion_matrix_png(
            bseg["confusion_matrix"], bseg["confusion_matrix_labels"], "Spectral baseline (LDA)"
        )
    heal = model.get("healing") or {}
    if heal.get("calibration"):
        files["reliability.png"] = reliability_png(
            heal["calibration"], "Healing head reliability", heal.get("calibration_before")
        )
    agree = model.get("score_agreement") or {}
    if agree.get("quantities"):
        unit = "cm²" if agree["unit"] == "cm2" else "px"
        files["bland_altman.png"] = bland_altman_png(
            agree["quantities"], unit, "Score vs truth on held-out captures"
        )
    if curves:
        files["roc.png"] = roc_png(curves, "Healing within 21 days (skin pixels)")
    return files

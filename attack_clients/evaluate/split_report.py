"""The report's split-network section: what the curious service reconstructs from the features
users send, against what the device noise b (and DP-SGD training) costs the users' accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from attack_clients.evaluate.document import Block, Figure, Heading, Paragraph, Table
from attack_clients.evaluate.figures import saved
from attack_clients.evaluate.store import ResultStore
from attack_clients.evaluate.sweep import SPLIT_ATTACKS


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


def _success(p: Mapping[str, Any]) -> str:
    return "-" if p["top1"] is None else f"{p['top1']:.3f} ({p['hits']}/{p['n']})"


def measurement(document: Mapping[str, Any]) -> dict[str, Any]:
    """One split cell's figures: b, the users' accuracy under it, the face recogniser (None where
    it does not apply: the digits fallback) and SSIM."""
    raw = document["raw"]
    metrics, success = raw["metrics"], raw.get("success") or {}
    return {
        "model": document["model"],
        "b": float(raw["device_noise"]),
        "accuracy": float(raw["accuracy_under_noise"]),
        "chance": float(raw["chance_accuracy"]),
        "top1": success.get("top1"),
        "hits": success.get("hits"),
        "n": success.get("n"),
        "success_chance": success.get("chance"),
        "ssim": metrics.get("ssim_to_victim"),
        "mean_face_ssim": metrics.get("baseline_mean_face_ssim_to_victim"),
        "evaluation_network": metrics.get("evaluation_network_top1"),
    }


def _label(model: str, model_info: Mapping[str, Any]) -> str:
    epsilon = (model_info.get(model) or {}).get("epsilon")
    return model if epsilon is None else f"{model} (ε = {float(epsilon):.1f})"


def draw(measured: Mapping[str, list[dict[str, Any]]], labels: Mapping[str, str], path: Path) -> Path:
    """Face recogniser top-1 (left) and SSIM to the query photo (right) against the users'
    accuracy, one line per model through its b values (labelled); dotted: chance, the mean face."""
    fig, (top, ssim) = plt.subplots(1, 2, figsize=(10, 4))
    for model, points in measured.items():
        for ax, key in ((top, "top1"), (ssim, "ssim")):
            shown = [p for p in points if p[key] is not None]
            ax.plot([p["accuracy"] for p in shown], [p[key] for p in shown], "o-", label=labels[model])
            for p in shown:
                ax.annotate(f"b={p['b']:g}", (p["accuracy"], p[key]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")  # fmt: skip
    first = next(iter(measured.values()))[0]
    for ax in (top, ssim):
        ax.axvline(first["chance"], color="grey", linestyle=":")
        ax.set_xlabel("users' accuracy under the device noise")
        ax.legend(fontsize=7)
    if first["success_chance"] is not None:
        top.axhline(first["success_chance"], color="grey", linestyle=":")
    faces = [p["mean_face_ssim"] for points in measured.values() for p in points if p["mean_face_ssim"] is not None]
    if faces:
        ssim.axhline(sum(faces) / len(faces), color="grey", linestyle="--", label="mean auxiliary face")
    top.set_ylabel("face recogniser top-1 (success)")
    ssim.set_ylabel("SSIM to the query photo")
    return saved(fig, path, "Split network: reconstruction against the users' accuracy, per device noise b")


def split_section(summary: Mapping[str, Any], out: Path) -> list[Block]:
    """A table (a row per finished split cell, by model then b) and the figure; nothing without any."""
    store = ResultStore(out)
    rows = [
        r for r in summary["cells"] if r["attack"] in SPLIT_ATTACKS and r.get("status") == "ok" and store.done(r["key"])
    ]
    if not rows:
        return []
    measured: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        measured.setdefault(r["model"], []).append(measurement(store.load(r["key"])))
    measured = {model: sorted(points, key=lambda p: p["b"]) for model, points in sorted(measured.items())}
    labels = {model: _label(model, summary.get("model_info") or {}) for model in measured}
    chance = next(iter(measured.values()))[0]["chance"]
    table = Table(
        ("model", "b", "users' accuracy", "face recogniser top-1 (hits/n)", "SSIM to the query photo",
         "mean-face SSIM", "evaluation network top-1"),
        tuple(
            (labels[model], f"{p['b']:g}", _num(p["accuracy"]), _success(p),
             _num(p["ssim"]), _num(p["mean_face_ssim"]), _num(p["evaluation_network"]))
            for model, points in measured.items()
            for p in points
        ),
        "Split decoder per device noise b (Laplace scale added on the device to each feature)",
    )  # fmt: skip
    figure = draw(measured, labels, out / "figures" / "split-network.png")
    return [
        Heading("Split network: reconstructing what users send"),
        Paragraph(
            "Users run the device stage on their held-out photos, add Laplace(0, b) noise to each feature and send "
            "the features; the curious service reads its feature log and decodes every query with decoders trained "
            "on other people's faces. Success is the face recogniser's top-1 (chance, as for the users' accuracy, "
            f"{chance:.3f}; '-' where no face recogniser applies); SSIM is to the query photo, against the mean "
            "auxiliary face's; the users' accuracy is the share of their noised queries the service answered correctly."
        ),
        table,
        Figure(figure, "Face recogniser top-1 and SSIM against the users' accuracy, per b"),
    ]

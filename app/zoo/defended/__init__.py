"""Training-time defences against model inversion: zoo models trained another way.

Each module named in ``VARIANT_MODULES`` exports ``VARIANTS`` (see ``base.Variant``);
adding a defence is one new module and one line here. The served names are
``faces-<architecture>-<suffix>`` (``faces-mlp-dp-nm0.5``, ``faces-mlp-wd``, ...) on
the AT&T faces and, without ``MLAAS_DATA_DIR``, on the digits fallback.

They train in the background (``python -m app train-defenses``, which gunicorn's
master starts after the base zoo is loaded) and are cached like the zoo; which of
them exist is ``MLAAS_TRAINING_DEFENSES`` (``all``, ``none`` or a comma list of names).
"""

from __future__ import annotations

from importlib import import_module

from app.zoo.defended.base import Variant

VARIANT_MODULES = ("dp_sgd", "weight_decay", "dropout", "label_smoothing", "mid", "split_dp")
ALL, NONE = "all", "none"


def variants() -> dict[str, Variant]:
    """Every defended model by name, in the order of ``VARIANT_MODULES``."""
    found: dict[str, Variant] = {}
    for module in VARIANT_MODULES:
        for variant in import_module(f"app.zoo.defended.{module}").VARIANTS:
            found[variant.name] = variant
    return found


def select(selection: str) -> list[Variant]:
    """The variants ``selection`` names: ``all``, ``none`` (or empty) or a comma list of names."""
    known = variants()
    wanted = selection.strip().lower()
    if wanted == ALL:
        return list(known.values())
    if wanted in (NONE, ""):
        return []
    names = [name.strip() for name in selection.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown training defence {unknown[0]!r}; expected all, none or some of {', '.join(known)}")
    return [known[name] for name in known if name in names]

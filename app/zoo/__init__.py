"""The model zoo: built-in models (trained once, cached on disk) and uploaded trees.

Serving needs numpy only; torch and scikit-learn are imported when training.
"""

from app.zoo.base import Field, InputError, ServedModel
from app.zoo.cache import load_builtin_models
from app.zoo.images import ImageModel, Layer
from app.zoo.report import accuracy_table, format_accuracy_table
from app.zoo.serialise import model_from_bytes, model_to_bytes
from app.zoo.trees import MISSING_TOKENS, TreeModel
from app.zoo.uploads import train_tree_from_csv

__all__ = [
    "MISSING_TOKENS",
    "Field",
    "ImageModel",
    "InputError",
    "Layer",
    "ServedModel",
    "TreeModel",
    "accuracy_table",
    "format_accuracy_table",
    "load_builtin_models",
    "model_from_bytes",
    "model_to_bytes",
    "train_tree_from_csv",
]

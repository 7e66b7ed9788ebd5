"""Additive Gaussian or Laplace noise on the confidences, clipped and renormalised.

Two sources of noise:

* Fresh (default). Every call draws new noise. With ``seed=None`` the entropy is
  fresh; a given seed reproduces the call exactly. Within one call the noise is
  one stream filled row after row, so row i's noise depends only on the seed, the
  step and i, never on the other rows' values.
* Deterministic (``"deterministic": true``). The noise is a keyed hash of the
  model input row: the same input always gets the same noise, so repeating a
  query and averaging the answers removes nothing. The trade-off: the output is a
  fixed function of the input, so an attacker can spot duplicates, and inputs
  that differ in the last bit get independent noise, so averaging over a cloud of
  nearby inputs (which finite-difference and zeroth-order attacks query anyway)
  still works. The key comes from the pipeline seed and the step index; with
  ``seed=None`` the public key of seed 0 is used, so a real deployment should
  pass its own fixed secret seed (anyone who knows the key can recompute and
  subtract the noise up to clipping).

A row the noise drives to all zeros falls back to uniform (see ``rows.renormalise``):
falling back to the clean row would hand out the exact confidences.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from defenses.rows import renormalise

NOISE_KINDS = ("gaussian", "laplace")


def add_noise(probabilities: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Confidences plus noise, clipped to [0, 1] and renormalised per row."""
    return renormalise(np.clip(probabilities + noise, 0.0, 1.0))


def fresh_noise(kind: str, scale: float, shape: tuple[int, int], seed_sequence: np.random.SeedSequence) -> np.ndarray:
    """Noise drawn from one stream, filled row by row (row i never sees row j)."""
    rng = np.random.Generator(np.random.PCG64(seed_sequence))
    if kind == "gaussian":
        return rng.normal(0.0, scale, size=shape)
    return rng.laplace(0.0, scale, size=shape)


def step_key(seed: int | None, step: int) -> bytes:
    """The secret of one deterministic noise step: derived from the seed and step."""
    material = f"{0 if seed is None else seed}:{step}".encode()
    return hashlib.blake2b(material, digest_size=32, person=b"defenses-noise").digest()


def row_digests(inputs: Any, n: int) -> list[bytes]:
    """A digest per input row, independent of how the row's numbers were typed.

    Numeric rows are hashed as float64 (so float32 and float64 copies of one query
    agree; -0.0 and NaN payloads are normalised); other rows (e.g. strings of a
    tree model) are hashed through a canonical text form.
    """
    rows = np.asarray(inputs)
    if rows.ndim == 0 or rows.shape[0] != n:
        raise ValueError(f"inputs must have one row per probability row ({n}), got shape {rows.shape}")
    if n == 0:
        return []
    rows = rows.reshape(n, -1)
    if rows.dtype.kind in "biuf":
        canonical = rows.astype(np.float64) + 0.0
        canonical[np.isnan(canonical)] = np.nan
        return [_digest(b"f8", memoryview(row)) for row in np.ascontiguousarray(canonical)]
    return [_digest(b"py", repr(tuple(_canonical(v) for v in row)).encode()) for row in rows]


def keyed_noise(kind: str, scale: float, key: bytes, digests: Sequence[bytes], classes: int) -> np.ndarray:
    """Noise that is a fixed function of (key, input row), shape (rows, classes).

    SHAKE-256 of key and row digest gives two uniforms per class, turned into a
    Gaussian (Box-Muller) or Laplace (inverse CDF) variate.
    """
    raw = b"".join(hashlib.shake_256(key + digest).digest(16 * classes) for digest in digests)
    words = np.frombuffer(raw, dtype="<u8").reshape(len(digests), classes, 2)
    uniform = ((words >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    first, second = uniform[..., 0], uniform[..., 1]
    if kind == "gaussian":
        return scale * np.sqrt(-2.0 * np.log(first)) * np.cos(2.0 * np.pi * second)
    centred = first - 0.5
    return -scale * np.sign(centred) * np.log1p(-2.0 * np.abs(centred))


def _digest(domain: bytes, payload: bytes | memoryview) -> bytes:
    digest = hashlib.sha256(domain)
    digest.update(payload)
    return digest.digest()


def _canonical(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) + 0.0
    if isinstance(value, np.str_):
        return str(value)
    return value

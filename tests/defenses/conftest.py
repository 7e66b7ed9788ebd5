"""Make the project root importable, so ``import defenses`` finds the package.

Without it, pytest's rootdir-less layout puts ``tests/`` on ``sys.path`` and
``defenses`` resolves to this test folder as a namespace package.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

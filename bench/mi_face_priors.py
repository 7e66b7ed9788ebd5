"""White-box MI-Face with and without image priors on a local faces-softmax stand-in, judged by the panel.

``MLAAS_DATA_DIR=../shared/data python bench/mi_face_priors.py``: trains a softmax
regression on 7 of each AT&T person's 10 photos (as the zoo's ``faces-softmax``),
inverts all 40 people with Algorithm 1 (α = 5000) under each prior setting, and
prints the face recogniser's top-1, verification and detection beside the pixel
evaluator's top-1. A measurement, not a speed benchmark: no baseline ratio.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attack_clients.attacks.descent import log_gradient
from attack_clients.datasets import ATT_SHAPE, load_faces
from attack_clients.faces.inversion import invert_white_box
from attack_clients.faces.mi_face import MIFaceParams
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.faces.priors import PriorSettings
from attack_clients.faces.targets import fit_dense_target
from attack_clients.judges import panel_for

SETTINGS = {
    "none": PriorSettings(),
    "tv 0.001": PriorSettings(names=("tv",)),
    "lowpass 32": PriorSettings(names=("lowpass",)),
    "lowpass 16": PriorSettings(names=("lowpass",), lowpass=16),
    "blur every 50": PriorSettings(names=("blur",)),
    "contrast 5-95": PriorSettings(names=("contrast",), contrast=(5.0, 95.0)),
    "all four (defaults)": PriorSettings(names=("tv", "lowpass", "blur", "contrast")),
}


def main() -> None:
    faces = load_faces(ATT_SHAPE)
    training = np.arange(len(faces.labels)) % 10 < 7
    export = fit_dense_target(faces.images[training], faces.labels[training], 40, ATT_SHAPE, epochs=150)
    model = WhiteBoxModel(export)
    labels = list(range(40))
    starts = np.zeros((40, int(np.prod(ATT_SHAPE))), dtype=np.float32)
    use_log, _ = log_gradient("auto", model.predict_proba(starts)[np.arange(40), labels])
    panel = panel_for(ATT_SHAPE)
    for name, prior in SETTINGS.items():
        started = time.perf_counter()
        images, _ = invert_white_box(model, labels, MIFaceParams(), log_gradient=use_log, x0=starts, prior=prior)
        judges = panel.judge(images, np.asarray(labels))
        recogniser = judges["face_recognizer"]
        row = {
            "prior": name,
            "seconds": round(time.perf_counter() - started, 1),
            "face_recognizer_top1": recogniser["top1"],
            "verified": recogniser["verified"],
            "faces_detected": recogniser["faces_detected"],
            "pixel_evaluator_top1": judges["pixel_evaluator"]["top1"],
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

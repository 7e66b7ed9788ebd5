"""Do a prior's samples look like faces? The share in which the face recogniser's detector finds one.

The issue's bar: dlib's frontal face detector (the face recogniser's, same 3x
upscaling) finds a face in at least 80% of the prior's samples. On the
AT&T photos themselves it finds one in 98%.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attack_clients.generative.prior import FacePrior

SAMPLES = 200
BAR = 0.8


def face_share(prior: FacePrior, source: str, n: int = SAMPLES, seed: int = 0) -> dict[str, Any]:
    """``{"share", "samples", "bar"}`` on ``n`` samples, or ``{"share": None, "reason"}`` where it cannot be read."""
    from attack_clients.judges.base import NotApplicable
    from attack_clients.judges.face_recognizer import Descriptors

    if source == "digits":
        return {"share": None, "reason": "digits: there is no face to detect"}
    try:
        detector = Descriptors(prior.image_shape)
    except NotApplicable as error:
        return {"share": None, "reason": str(error)}
    samples = prior.generate(prior.sample_latents(n, np.random.default_rng(seed)))
    found = [box is not None for box in detector.detect(samples)]
    return {"share": float(np.mean(found)), "samples": n, "bar": BAR}

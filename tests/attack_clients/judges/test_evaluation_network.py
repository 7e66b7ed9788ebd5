"""The evaluation network ranks a reconstruction among every person of the data, however few are judged."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("panel", ["digits_panel", "att_panel"])
def test_a_one_person_verdict_is_ranked_among_every_person(request: pytest.FixtureRequest, panel: str) -> None:
    """A page job on one person: a flat image names one fixed person, so it is credited in one job of
    ``classes`` (chance 1/classes), never in every one as a single-candidate ranking would."""
    data = request.getfixturevalue(panel).data
    network = request.getfixturevalue(panel).judges["evaluation_network"]
    classes = len(data.classes)
    blank = np.zeros((1, int(np.prod(data.image_shape))))
    verdicts = [network.score(blank, np.array([person])) for person in range(classes)]
    assert {(v["n"], v["chance_top1"]) for v in verdicts} == {(1, 1 / classes)}
    assert sum(v["hits"] for v in verdicts) == 1

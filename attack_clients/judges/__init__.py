"""Judging reconstructed faces as a person would: a panel of judges with calibration controls.

``panel_for(image_shape).judge(images, identities)`` gives every judge's
figures; ``summary.headline`` the face recogniser's, which is what success
means everywhere in the project. See ``panel`` for the registry of judges.
"""

from attack_clients.judges.panel import HEADLINE, JUDGES, JudgePanel, panel_for

__all__ = ["HEADLINE", "JUDGES", "JudgePanel", "panel_for"]

"""Output defences for a prediction API: pure-numpy perturbations of confidences.

Probabilities in (n, k), probabilities out, each row treated on its own. Build a
pipeline from a declarative spec and apply it::

    pipeline = parse_spec([{"noise": "laplace", "scale": 0.02}, {"round": 0.01}])
    out = pipeline.apply(probabilities, seed=None)   # out.labels, out.probabilities

See ``spec`` for the spec format, ``pipeline`` for the label rule and ``steps``
for the registry of defence steps.
"""

from defenses.errors import DefenseSpecError
from defenses.pipeline import Defended, Pipeline
from defenses.spec import describe_steps, parse_spec

__all__ = ["Defended", "DefenseSpecError", "Pipeline", "describe_steps", "parse_spec"]

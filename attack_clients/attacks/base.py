"""What every attack is made of: typed parameters, a target, a result, one way to say "not here".

An attack is a function ``run(target, params) -> AttackResult``. ``Params``
subclasses are frozen dataclasses whose fields are the attack's settings, with
the command line's defaults; each field's ``cli(...)`` metadata is all the
CLI needs to offer it as a flag, and construction checks types and choices, so
a mistyped setting fails where it is written, not in the middle of a run.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union, get_args, get_origin, get_type_hints

import numpy as np

from attack_clients.clients import HttpClient, connect


class AttackNotApplicable(RuntimeError):
    """The attack cannot run against this target (bad labels, no download, no data): an answer, not a bug.

    ``document`` is a ``results.json`` worth writing anyway (e.g. why a download was refused).
    """

    def __init__(self, message: str, document: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.document = dict(document) if document is not None else None


def cli(
    help: str | None = None,
    *,
    choices: Sequence[Any] | None = None,
    parse: Callable[[str], Any] | None = None,
    metavar: str | None = None,
) -> dict[str, Any]:
    """A ``Params`` field's command-line flag (``--field-name``): ``field(default=..., metadata=cli(...))``."""
    return {"help": help, "choices": tuple(choices) if choices else None, "parse": parse, "metavar": metavar}


def _accepts(hint: Any, value: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_accepts(h, value) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        item = get_args(hint)[0]
        return isinstance(value, tuple) and all(_accepts(item, v) for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int | np.integer) and not isinstance(value, bool)
    return isinstance(value, hint)


@dataclass(frozen=True)
class Params:
    """Base of every attack's parameters: checks each field's type and choices on construction."""

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if not _accepts(hints[spec.name], value):
                raise TypeError(f"{type(self).__name__}.{spec.name}: {value!r} is not {hints[spec.name]}")
            choices = spec.metadata.get("choices")
            if choices and value not in choices:
                raise ValueError(f"{type(self).__name__}.{spec.name}: {value!r} is not one of {list(choices)}")

    def changed(self, base: Params | None = None) -> dict[str, Any]:
        """The fields that differ from ``base`` (default: the defaults), in declaration order."""
        return {
            spec.name: getattr(self, spec.name)
            for spec in dataclasses.fields(self)
            if getattr(self, spec.name) != (spec.default if base is None else getattr(base, spec.name))
        }


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def as_arguments(params: Params, base: Params | None = None) -> list[str]:
    """The command-line flags that turn ``base`` (default: the defaults) into ``params``."""
    arguments: list[str] = []
    for name, value in params.changed(base).items():
        if value is True:
            arguments.append(flag(name))
        elif isinstance(value, tuple):
            arguments += [flag(name), ",".join(str(v) for v in value)]
        elif value is not None and value is not False:
            arguments += [flag(name), str(value)]
    return arguments


@dataclass(frozen=True)
class Target:
    """Which service, model and wire dialect an attack queries, and how (the CLI's target options)."""

    url: str
    key: str
    model: str
    dialect: str = "v2"
    max_rows: int | None = None
    batch_size: int | None = None
    username: str | None = None
    workspace: str = "default"
    timeout: float = 300.0
    progress: bool = False

    def connect(self, dialect: str | None = None) -> HttpClient:
        """A client for this target (``dialect`` overrides the target's own)."""
        dialect = dialect or self.dialect
        options: dict[str, Any] = {
            "max_rows": self.max_rows,
            "batch_size": self.batch_size,
            "timeout": self.timeout,
            "progress": self.progress,
        }
        if dialect == "bigml":
            options["username"] = self.username
        if dialect == "azure-classic":
            options["workspace"] = self.workspace
        return connect(self.url, self.key, self.model, dialect, **options)


@dataclass
class AttackResult:
    """What an attack produced: its ``results.json`` document and the files that go with it.

    ``images``/``labels``/``image_shape`` are a face attack's reconstructions
    (``recon-<label>.png``), ``references`` a real image per label for
    ``grid.png``; ``tables`` are CSV files by name (a tree attack's guesses).
    """

    document: dict[str, Any]
    images: np.ndarray | None = None
    labels: list[int] = field(default_factory=list)
    image_shape: tuple[int, ...] = ()
    references: np.ndarray | None = None
    tables: dict[str, list[list[Any]]] = field(default_factory=dict)


Run = Callable[[Target, Any], AttackResult]


@dataclass(frozen=True)
class Command:
    """One ``python -m attack_clients`` verb: its parameters and the function that runs it."""

    name: str
    family: str
    help: str
    params: type[Params]
    run: Run
    description: str | None = None


@dataclass(frozen=True)
class Attack:
    """One attack of the registry: a command with its settings, as the evaluation runs it and names it.

    ``white_box`` attacks make no prediction query (they download the model), so
    an output defence cannot reach them; ``labels_only`` attacks read nothing of an
    answer but its label, so a defence that never moves a label cannot reach them
    either; ``dialect`` is the wire they need.
    """

    name: str
    title: str
    short: str
    command: Command
    params: Params
    white_box: bool = False
    labels_only: bool = False
    dialect: str = "v2"
    operator: bool = False
    """The attacker is the service's operator (it reads what the service logged): run with the admin key."""

    def __post_init__(self) -> None:
        if not isinstance(self.params, self.command.params):
            raise TypeError(f"{self.name}: params must be {self.command.params.__name__}")

    @property
    def family(self) -> str:
        return self.command.family

    def tuned(self, **changes: Any) -> Params:
        """This attack's parameters with ``changes`` (checked now)."""
        return dataclasses.replace(self.params, **changes)

    def run(self, target: Target, params: Params | None = None) -> AttackResult:
        return self.command.run(target, self.params if params is None else params)

    def arguments(self, params: Params | None = None) -> list[str]:
        """The command line that runs this attack with ``params`` (target options aside)."""
        arguments = as_arguments(self.params if params is None else params)
        if self.dialect != "v2":
            arguments += ["--dialect", self.dialect]
        return [self.command.name, *arguments]

"""The registry drives the CLI and the sweep: flags come from the parameters, and a cell's recorded
command line reproduces the cell's parameters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from attack_clients.attacks import ATTACKS, COMMANDS, AttackNotApplicable
from attack_clients.attacks.base import flag
from attack_clients.attacks.face_session import FaceParams
from attack_clients.cli import build_parser, main, params_from_args
from attack_clients.evaluate.sweep import PROFILES

TARGET = ["--url", "http://x", "--key", "k", "--model", "m", "--out", "out"]


def parse(argv: list[str]):
    return build_parser().parse_args([*argv, *TARGET])


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_has_a_flag_per_parameter_and_the_same_defaults(name: str, capsys) -> None:
    command = COMMANDS[name]
    assert params_from_args(command.params, parse([name])) == command.params()
    with pytest.raises(SystemExit):
        main([name, "--help"])
    help_text = capsys.readouterr().out
    for spec in dataclasses.fields(command.params):
        assert flag(spec.name) in help_text


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_cells_recorded_command_line_gives_back_its_parameters(profile: str) -> None:
    for attack in ATTACKS.values():
        params = PROFILES[profile].params_for(attack)
        if attack.family == "face":
            params = dataclasses.replace(params, labels=(0, 1), quiet=True)
        args = parse(attack.arguments(params))
        assert params_from_args(attack.command.params, args) == params, attack.name
        assert args.dialect == attack.dialect


def test_face_attacks_share_the_face_parameters() -> None:
    for attack in ATTACKS.values():
        assert isinstance(attack.params, FaceParams) is (attack.family == "face"), attack.name


def test_an_attack_that_does_not_apply_exits_2_with_its_reason(tmp_path: Path, monkeypatch, capsys) -> None:
    def refuse(target, params):
        raise AttackNotApplicable("no faces here")

    monkeypatch.setitem(COMMANDS, "decoder", dataclasses.replace(COMMANDS["decoder"], run=refuse))
    argv = ["decoder", "--url", "http://x", "--key", "k", "--model", "m", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "no faces here" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()

"""The ``generative`` verb end to end against a fake client on digits (no server, no data directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attack_clients.faces.test_cli_faces import FakeClient, NoDownloadClient, common, run

REDUCED = ["--prior-size", "reduced", "--steps", "30", "--starts", "2"]


@pytest.fixture(autouse=True)
def no_data(monkeypatch) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)


def test_white_box_writes_results_pngs_and_says_who_the_prior_saw(tmp_path: Path, digits_target, monkeypatch) -> None:
    argv = ["generative", *common(tmp_path), *REDUCED, "--labels", "0,3,7"]
    client = FakeClient(digits_target)
    assert run(argv, client, monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["access"] == "white-box" and results["rows"] == client.stats.rows == 0
    assert "no photo of a victim" in results["auxiliary"]
    assert [row["label"] for row in results["per_label"]] == [0, 3, 7]
    for fold in results["folds"]:
        seen = fold["prior"]["auxiliary_identities"]
        assert not set(seen) & set(fold["victims"])
        assert set(seen) | set(fold["victims"]) == set(range(10))
        attacked = [row["label"] for row in results["per_label"] if row["fold"] == fold["fold"]]
        assert set(attacked) <= set(fold["victims"])
    assert results["judges"]["face_recognizer"]["applies"] is False  # digits: no face to recognise
    assert sorted(p.name for p in tmp_path.glob("recon-*.png")) == ["recon-0.png", "recon-3.png", "recon-7.png"]
    assert (tmp_path / "grid.png").is_file()


def test_white_box_over_v2_downloads_through_bigml(tmp_path: Path, digits_target, monkeypatch) -> None:
    """The v2 client has no download; the attack fetches the model through BigML on its own."""
    clients = {"v2": NoDownloadClient(digits_target), "bigml": FakeClient(digits_target)}
    monkeypatch.setattr(
        "attack_clients.attacks.base.Target.connect", lambda self, dialect=None: clients[dialect or "v2"]
    )
    from attack_clients.cli import main

    assert main(["generative", *common(tmp_path), *REDUCED, "--labels", "1", "--no-eval"]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["per_label"][0]["label"] == 1


def test_refused_download_is_not_applicable(tmp_path: Path, digits_target, monkeypatch, capsys) -> None:
    argv = ["generative", *common(tmp_path), *REDUCED, "--no-eval"]
    assert run(argv, FakeClient(digits_target, downloadable=False), monkeypatch) == 2
    assert "download refused" in capsys.readouterr().err


@pytest.mark.parametrize("access", ["black-box", "label-only"])
def test_query_searches_count_every_row(access: str, tmp_path: Path, digits_target, monkeypatch) -> None:
    argv = ["generative", *common(tmp_path), "--access", access, "--prior-size", "reduced", "--steps", "3"]
    client = FakeClient(digits_target)
    assert run([*argv, "--starts", "4", "--labels", "0,5,9", "--no-eval"], client, monkeypatch) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["access"] == access and results["rows"] == client.stats.rows > 0
    assert [row["label"] for row in results["per_label"]] == [0, 5, 9]
    assert {row["fold"] for row in results["per_label"]} <= {fold["fold"] for fold in results["folds"]}


def test_a_flag_the_search_does_not_take_is_refused(tmp_path: Path, digits_target, monkeypatch, capsys) -> None:
    argv = ["generative", *common(tmp_path), "--access", "label-only", "--learning-rate", "0.1", "--no-eval"]
    assert run(argv, FakeClient(digits_target), monkeypatch) == 2
    assert "takes no --learning-rate" in capsys.readouterr().err

"""``art-attr-bb`` and ``art-attr-wb``: ART's attribute inference as registry attacks, locally and over HTTP.

Locally the survey of ``tree_fixtures`` (steak preference leaks "cheated") behind a
``LocalTreeOracle``; a tree trained without "cheated" is the control that leaks nothing.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

from attack_clients.attacks import ATTACKS, Target
from attack_clients.attacks.art_attribute import ArtAttrBbParams, ArtAttrWbParams, run_black_box, run_white_box
from attack_clients.cli import main
from attack_clients.clients import ApiError, DownloadForbidden, V2Client
from attack_clients.trees.model import BigMLTree, LocalTreeOracle
from tests.attack_clients.trees.tree_fixtures import FIELDS, Scenario, build
from tests.conftest import LiveServer

SENSITIVE = "cheated"
LABEL = "steak"


class TreeClient(LocalTreeOracle):
    """What ``connect`` returns, over a tree JSON: metadata, predictions, the download."""

    resource_id = "model/local"

    def __init__(self, scenario: Scenario, downloadable: bool = True) -> None:
        super().__init__(BigMLTree(scenario.model_json))
        self.model_json = scenario.model_json
        self.downloadable = downloadable

    def metadata(self) -> dict:
        return {"kind": "tree", "fields": FIELDS, "sensitive": SENSITIVE}

    def download_model(self) -> dict:
        if not self.downloadable:
            raise DownloadForbidden(403, "switched off")
        return self.model_json


@pytest.fixture(scope="module")
def leaky() -> Scenario:
    return build(FIELDS, FIELDS)


@pytest.fixture(scope="module")
def blind() -> Scenario:
    return build(FIELDS, [f for f in FIELDS if f["name"] != SENSITIVE])


def records_csv(scenario: Scenario, folder: Path) -> Path:
    path = folder / "targets.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(f["name"] for f in FIELDS), LABEL, "split"])
        for split, (records, labels) in (("training", scenario.train), ("heldout", scenario.heldout)):
            for record, label in zip(records, labels, strict=True):
                writer.writerow([*(record[f["name"]] for f in FIELDS), label, split])
    return path


def cli(verb: str, scenario: Scenario, folder: Path, monkeypatch: pytest.MonkeyPatch, *flags: str) -> int:
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: TreeClient(scenario))
    argv = [verb, "--records", str(records_csv(scenario, folder)), "--label-column", LABEL, *flags]
    return main([*argv, "--url", "http://x", "--key", "k", "--model", "survey", "--out", str(folder)])


def accuracy_over_majority(results: dict, split: str) -> float:
    metrics = results["metrics"][split]
    return metrics["attack"]["accuracy"] - metrics["baseline"]["accuracy"]


@pytest.mark.parametrize("verb", ["art-attr-wb", "art-attr-bb"])
def test_art_attribute_inference_reads_the_leak_and_only_the_leak(
    verb: str, leaky: Scenario, blind: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = ("--attack-model-type", "rf") if verb == "art-attr-bb" else ()
    found = {}
    for name, scenario in (("leaky", leaky), ("blind", blind)):
        folder = tmp_path / name
        folder.mkdir()
        assert cli(verb, scenario, folder, monkeypatch, *flags) == 0
        found[name] = json.loads((folder / "results.json").read_text())
        guesses = list(csv.reader((folder / "guesses.csv").open()))
        assert len(guesses) == 1 + len(scenario.train[0]) + len(scenario.heldout[0])
        assert {row[4] for row in guesses[1:]} <= {"No", "Yes"}
    for split in ("training", "heldout"):
        assert accuracy_over_majority(found["leaky"], split) > 0.05
        assert found["leaky"]["metrics"][split]["attack"]["recall"] > 0.3
        assert accuracy_over_majority(found["blind"], split) <= 0.02
    assert found["leaky"]["attack"] == verb


def test_the_black_box_attack_trains_on_held_out_rows_only(
    leaky: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three fits, each one query of held-out rows (all of them, then each half); no target row is queried."""
    client = TreeClient(leaky)
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: client)
    params = ATTACKS["art-attr-bb"].tuned(records=records_csv(leaky, tmp_path), label_column=LABEL)
    result = run_black_box(Target("http://x", "k", "survey"), params)
    assert client.stats.queries == 3 and client.stats.rows == 2 * len(leaky.heldout[0])
    assert result.document["parameters"]["attack_model_type"] == "rf"


def test_the_white_box_attack_makes_no_query_and_a_refused_download_is_not_applicable(
    leaky: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    client = TreeClient(leaky)
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: client)
    params = ArtAttrWbParams(records=records_csv(leaky, tmp_path), label_column=LABEL)
    result = run_white_box(Target("http://x", "k", "survey"), params)
    assert client.stats.queries == 0 and result.document["parameters"]["nodes"] > 1
    refused = TreeClient(leaky, downloadable=False)
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: refused)
    argv = ["art-attr-wb", "--records", str(params.records), "--label-column", LABEL]
    assert main([*argv, "--url", "http://x", "--key", "k", "--model", "survey", "--out", str(tmp_path)]) == 2
    assert "download forbidden" in capsys.readouterr().err
    assert "forbidden" in json.loads((tmp_path / "results.json").read_text())["parameters"]["error"]


@pytest.mark.parametrize("verb", ["art-attr-wb", "art-attr-bb"])
def test_without_art_the_verbs_say_how_to_install_it(
    verb: str, leaky: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name in ["art", *(m for m in sys.modules if m.startswith("art."))]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "attack_clients.art_adapters", raising=False)
    assert cli(verb, leaky, tmp_path, monkeypatch) == 2
    assert "pip install adversarial-robustness-toolbox" in capsys.readouterr().err


def test_the_registry_entries() -> None:
    black_box, white_box = ATTACKS["art-attr-bb"], ATTACKS["art-attr-wb"]
    assert black_box.family == white_box.family == "tree"
    assert not black_box.white_box and white_box.white_box
    assert black_box.params == ArtAttrBbParams(attack_model_type="rf")
    assert ArtAttrBbParams().attack_model_type == "nn"  # the command line keeps ART's default


def test_art_attribute_inference_over_http(live_server: LiveServer) -> None:
    """Both attacks against the service's survey tree (steak with data, else the affairs survey)."""
    key = live_server.create_user("art-attribute")
    model = next(m for m in ("steak-tree", "fair-tree") if _served(live_server, key, m))
    data_dir = os.environ.get("MLAAS_DATA_DIR")
    common = {"data_dir": Path(data_dir)} if data_dir and model == "steak-tree" else {}
    target = Target(live_server.url, key, model)
    white_box = run_white_box(target, ArtAttrWbParams(**common)).document
    black_box = run_black_box(target, ArtAttrBbParams(attack_model_type="rf", **common)).document
    heldout = white_box["parameters"]["target_counts"]["heldout"]
    assert white_box["queries"] == 0 and white_box["bytes_received"] > 0  # the download only
    assert black_box["queries"] == 3 and black_box["rows"] == 2 * heldout
    for document in (white_box, black_box):
        for split in ("training", "heldout"):
            attack = document["metrics"][split]["attack"]
            assert attack["n"] == document["parameters"]["target_counts"][split]
            assert 0.0 <= attack["accuracy"] <= 1.0


def _served(live_server: LiveServer, key: str, model: str) -> bool:
    try:
        V2Client(live_server.url, key, model).metadata()
    except ApiError:
        return False
    return True

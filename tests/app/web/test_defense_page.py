"""The defence-tuning page (``/ui``): served outside the API document, and driven in headless Chromium."""

from __future__ import annotations

import json
import math
import random
import time
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from defenses import describe_steps, parse_spec
from tests.app.web.conftest import CHROMIUM

PREFERRED_MODELS = ("steak-tree", "fair-tree", "faces-softmax")
GRID = 0.05


def test_page_is_served_outside_the_api_document(client) -> None:
    page = client.get("/ui")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert b'id="spec"' in page.data
    for script in ("api.js", "defense.js", "attack.js"):  # ES modules: the browser needs a JavaScript type
        served = client.get(f"/ui/static/{script}")
        assert served.status_code == 200 and served.mimetype in ("text/javascript", "application/javascript")
    assert not [path for path in client.get("/openapi.json").get_json()["paths"] if path.startswith("/ui")]


def test_model_names_need_the_admin_key(client, admin_headers) -> None:
    assert client.get("/ui/models").status_code == 401
    names = client.get("/ui/models", headers=admin_headers).get_json()
    assert names and all(isinstance(name, str) for name in names)


def test_defense_steps_are_listed_without_a_key(client) -> None:
    listed = client.get("/ui/defense-steps")
    assert listed.status_code == 200
    steps = listed.get_json()
    assert steps == describe_steps()
    kinds = [step["kind"] for step in steps]
    assert len(set(kinds)) == len(kinds) and {"round", "noise", "reverse_sigmoid"} <= set(kinds)
    noise = next(step for step in steps if step["kind"] == "noise")
    assert noise["companions"] == ["scale", "deterministic"]
    scale = next(param for param in noise["params"] if param["name"] == "scale")
    assert (scale["type"], scale["minimum"], scale["maximum"], scale["required"]) == ("number", 0.0, 1.0, True)


def default_step(step: dict) -> dict:
    """The spec object a page builds for a step left at its defaults (optional defaults left out)."""
    spec: dict = {}
    for param in step["params"]:
        if param["required"]:
            target = spec if len(param["path"]) == 1 else spec.setdefault(param["path"][0], {})
            target[param["path"][-1]] = param["default"]
    return spec


@pytest.mark.parametrize("step", describe_steps(), ids=lambda step: step["kind"])
def test_every_step_at_its_defaults_is_a_valid_canonical_spec(step: dict) -> None:
    spec = [default_step(step)]
    assert parse_spec(spec).to_spec() == spec


def pick_model(server) -> str:
    names = server.admin("GET", "/ui/models").json()
    return next((name for name in PREFERRED_MODELS if name in names), names[0])


def v2_inputs(metadata: dict, n: int) -> list[dict]:
    """``n`` varied rows for a model, in the v2 tensor format its metadata describes."""
    rng = random.Random(0)
    parameters = metadata["parameters"]
    if parameters["kind"] == "image":
        width = math.prod(parameters["image_shape"])
        pixels = [rng.random() for _ in range(n * width)]
        return [{"name": "pixels", "datatype": "FP32", "shape": [n, width], "data": pixels}]
    inputs = []
    for field in parameters["fields"]:
        if field["optype"] == "categorical":
            data = [rng.choice([*field["categories"], ""]) for _ in range(n)]
            inputs.append({"name": field["name"], "datatype": "BYTES", "shape": [n], "data": data})
        else:
            low = field.get("minimum")
            low = 0.0 if low is None else low
            high = field.get("maximum")
            high = low + 100.0 if high is None else high
            data = [rng.uniform(low, high) for _ in range(n)]
            inputs.append({"name": field["name"], "datatype": "FP32", "shape": [n], "data": data})
    return inputs


def confidences(server, key: str, name: str, n: int = 64) -> list[float]:
    """Every confidence the v2 endpoint returns for ``n`` varied rows, over plain HTTP."""
    headers = {"Authorization": f"Bearer {key}"}
    metadata = requests.get(f"{server.url}/v2/models/{name}", headers=headers, timeout=60).json()
    response = requests.post(
        f"{server.url}/v2/models/{name}/infer",
        json={"inputs": v2_inputs(metadata, n)},
        headers=headers,
        timeout=60,
    )
    response.raise_for_status()
    output = next(o for o in response.json()["outputs"] if o["name"] == "probabilities")
    return [float(p) for p in _flatten(output["data"])]


def _flatten(data: list) -> list:
    return [x for item in data for x in (_flatten(item) if isinstance(item, list) else [item])]


def on_grid(values: list[float]) -> bool:
    return all(abs(v / GRID - round(v / GRID)) < 1e-4 for v in values)


def wait_for_text(driver, element_id: str, expected: str, timeout: float = 60) -> str:
    WebDriverWait(driver, timeout).until(
        lambda d: expected in d.find_element(By.ID, element_id).text,
        message=f"#{element_id} never showed {expected!r}",
    )
    return driver.find_element(By.ID, element_id).text


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium and chromium-driver (make browser)")
def test_rounding_tuned_in_the_browser_reaches_predictions(live_server, browser) -> None:
    name = pick_model(live_server)
    setting = f"/admin/models/{name}/defense"
    user_key = live_server.create_user(f"ui-{uuid.uuid4().hex[:8]}")
    assert not on_grid(confidences(live_server, user_key, name)), "clean outputs already on the grid prove nothing"
    try:
        browser.get(f"{live_server.url}/ui")
        browser.find_element(By.ID, "admin-key").send_keys(live_server.admin_key, Keys.ENTER)
        wait_for_text(browser, "key-status", "Connected")
        Select(browser.find_element(By.ID, "model")).select_by_value(name)
        browser.find_element(By.CSS_SELECTOR, "input[name=scope][value=model]").click()
        slider = browser.find_element(By.ID, "round-slider")
        slider.send_keys(Keys.HOME)  # log10 r = -3
        slider.send_keys(Keys.ARROW_RIGHT * 170)  # 170 steps of 0.01: log10 r = -1.3, r = 0.05
        assert browser.find_element(By.ID, "round-value").get_attribute("value") == "0.05"
        assert json.loads(browser.find_element(By.ID, "spec").get_attribute("value")) == [{"round": 0.05}]
        wait_for_text(browser, "utility-caption", '[{"round":0.05}]')

        browser.find_element(By.ID, "apply").click()
        accepted = wait_for_text(browser, "apply-status", "Accepted")
        assert f'model {name} is now [{{"round":0.05}}]' in accepted
        cells = browser.find_elements(By.CSS_SELECTOR, "#utility td[data-key]")
        numbers = {cell.get_attribute("data-key"): float(cell.text) for cell in cells}
        metrics = ("accuracy", "log_loss", "brier")
        assert set(numbers) == {*metrics, *(f"clean_{m}" for m in metrics), "mean_abs_change", "label_change_rate"}
        assert 0 <= numbers["accuracy"] <= 1 and numbers["mean_abs_change"] > 0
        assert live_server.admin("GET", setting).json()["spec"] == [{"round": 0.05}]

        deadline = time.monotonic() + 10  # each worker picks the change up within its refresh period
        while not on_grid(values := confidences(live_server, user_key, name)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert on_grid(values)

        invalid = '[{"round": 2}]'
        server_says = live_server.admin(
            "POST", f"/admin/models/{name}/utility", data=invalid, headers={"Content-Type": "application/json"}
        )
        assert server_says.status_code == 400
        message = server_says.json()["error"]["message"]
        spec = browser.find_element(By.ID, "spec")
        spec.clear()
        spec.send_keys(invalid)
        wait_for_text(browser, "spec-error", message)
        assert browser.find_element(By.ID, "spec").get_attribute("aria-invalid") == "true"
        browser.find_element(By.ID, "apply").click()
        assert message in wait_for_text(browser, "apply-status", "Refused")
        assert live_server.admin("GET", setting).json()["spec"] == [{"round": 0.05}]
    finally:
        live_server.admin("DELETE", setting)


def spec_in_page(driver) -> list:
    return json.loads(driver.find_element(By.ID, "spec").get_attribute("value"))


def type_spec(driver, text: str) -> None:
    spec = driver.find_element(By.ID, "spec")
    spec.clear()
    spec.send_keys(text)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium and chromium-driver (make browser)")
def test_step_editor_is_built_from_the_registry(live_server, browser) -> None:
    steps = describe_steps()
    browser.get(f"{live_server.url}/ui")
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "steps").get_attribute("aria-busy") == "false")
    legends = [legend.text for legend in browser.find_elements(By.CSS_SELECTOR, "#steps legend")]
    assert sorted(legends) == sorted(step["kind"] for step in steps)

    for step in steps:
        switch = browser.find_element(By.ID, f"{step['kind']}-on")
        switch.click()
        assert spec_in_page(browser) == [default_step(step)], step["kind"]
        switch.click()
        assert spec_in_page(browser) == []

    written = [
        {"noise": "gaussian", "scale": 0.2, "deterministic": True},
        {"reverse_sigmoid": {"beta": 0.3, "gamma": 2}},
        {"round": 0.005},
    ]
    type_spec(browser, json.dumps(written))

    def value(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).get_attribute("value")

    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "round-on").is_selected())
    assert browser.find_element(By.ID, "noise-deterministic-value").is_selected()
    assert value("noise-value") == "gaussian" and value("noise-scale-value") == "0.2"
    assert value("reverse_sigmoid-beta-value") == "0.3" and value("reverse_sigmoid-gamma-value") == "2"
    assert value("round-value") == "0.005"
    assert math.isclose(float(value("round-slider")), math.log10(0.005), abs_tol=0.01)
    assert not browser.find_element(By.ID, "top_k-on").is_selected()
    assert browser.find_element(By.ID, "spec-note").text == ""

    gamma = browser.find_element(By.ID, "reverse_sigmoid-gamma-value")
    gamma.send_keys(Keys.BACKSPACE, "5")
    assert spec_in_page(browser) == [written[0], {"reverse_sigmoid": {"beta": 0.3, "gamma": 5}}, written[2]]

    type_spec(browser, '[{"round": 0.1}, {"noise": "laplace", "scale": 0.1}]')
    wait_for_text(browser, "spec-note", "The form cannot show this spec")

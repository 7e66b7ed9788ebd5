"""The tuning page runs attacks: a small black-box attack against rounding to 0.05, launched and followed in Chromium.

Screenshots of the whole page go to ``out/test-artifacts/``. Without
``MLAAS_DATA_DIR`` the faces are digits and the face recogniser does not judge
them: the page must say so rather than show a number.
"""

from __future__ import annotations

import shutil

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from app.jobs.config import job_settings
from tests.app.web.conftest import CHROMIUM, full_page_screenshot

MODEL = "faces-softmax"
ATTACK = "mi-face-bb"
SPEC = [{"round": 0.05}]


def test_every_page_endpoint_needs_the_admin_key(client, admin_headers) -> None:
    for method, path in (
        ("GET", "/ui/api/attacks"),
        ("GET", "/ui/api/jobs"),
        ("GET", "/ui/api/history"),
        ("POST", f"/ui/api/models/{MODEL}/sample"),
        ("GET", f"/ui/api/models/{MODEL}/photos/0"),
        ("POST", "/ui/api/jobs"),
        ("GET", "/ui/api/jobs/0123456789abcdef/files/recon-0.png"),
    ):
        assert client.open(path, method=method).status_code == 401, path


def test_sample_query_shows_clean_and_defended_confidences(client, admin_headers) -> None:
    answer = client.post(f"/ui/api/models/{MODEL}/sample", json={"spec": SPEC}, headers=admin_headers)
    assert answer.status_code == 200
    sample = answer.get_json()
    clean = [entry["clean"] for entry in sample["classes"]]
    assert clean == sorted(clean, reverse=True) and len(clean) == min(10, sample["n_classes"])
    assert all(abs(entry["defended"] / 0.05 - round(entry["defended"] / 0.05)) < 1e-6 for entry in sample["classes"])
    assert sample["clean_label"] == sample["defended_label"]  # rounding never moves the label
    bad = client.post(f"/ui/api/models/{MODEL}/sample", json={"spec": [{"round": 2}]}, headers=admin_headers)
    assert bad.status_code == 400 and "round" in bad.get_json()["error"]["message"]


def test_files_are_served_only_by_name_from_a_job_folder(client, admin_headers) -> None:
    for path in (
        "/ui/api/jobs/..%2F..%2Fetc/files/recon-0.png",
        "/ui/api/jobs/0123456789abcdef/files/..%2Fattacks.json",
        "/ui/api/jobs/0123456789abcdef/files/recon-0.png",
    ):
        assert client.get(path, headers=admin_headers).status_code == 404, path


def test_a_job_is_refused_before_it_is_queued(client, admin_headers) -> None:
    for body, words in (
        ({"model": MODEL, "spec": [{"round": 2}], "attack": ATTACK}, "round"),
        ({"model": MODEL, "spec": SPEC, "attack": ATTACK, "people": [999]}, "class indices"),
        ({"model": MODEL, "spec": SPEC, "attack": ATTACK, "max_rows": 0}, "max_rows"),
        ({"model": MODEL, "spec": SPEC, "attack": ATTACK, "surprise": 1}, "unknown"),
        ({"model": "no-such-model", "spec": SPEC, "attack": ATTACK}, "no-such-model"),
    ):
        answer = client.post("/ui/api/jobs", json=body, headers=admin_headers)
        assert answer.status_code in (400, 404, 503), body
        assert answer.status_code == 503 or words in answer.get_json()["error"]["message"], body


def console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def loaded_images(driver, selector: str) -> int:
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].filter((i) => i.complete && i.naturalWidth > 0).length",
        selector,
    )


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium and chromium-driver (make browser)")
def test_an_attack_on_rounding_runs_live_from_the_page(live_server, browser) -> None:
    favicon = requests.get(f"{live_server.url}/favicon.ico", timeout=30)
    assert favicon.status_code == 200 and favicon.headers["Content-Type"].startswith("image/svg+xml")
    model_setting = live_server.admin("GET", f"/admin/models/{MODEL}/defense").json()["spec"]

    browser.get(f"{live_server.url}/ui")
    browser.find_element(By.ID, "admin-key").send_keys(live_server.admin_key, Keys.ENTER)
    WebDriverWait(browser, 60).until(lambda d: "Connected" in d.find_element(By.ID, "key-status").text)
    Select(browser.find_element(By.ID, "model")).select_by_value(MODEL)
    browser.find_element(By.ID, "round-on").click()
    rounding = browser.find_element(By.ID, "round-value")
    rounding.clear()
    rounding.send_keys("0.05")
    WebDriverWait(browser, 60).until(lambda d: '[{"round":0.05}]' in d.find_element(By.ID, "utility-caption").text)
    WebDriverWait(browser, 60).until(lambda d: '[{"round":0.05}]' in d.find_element(By.ID, "sample-caption").text)
    bars = browser.find_elements(By.CSS_SELECTOR, "#sample-chart rect.bar.defended")
    assert bars and len(bars) == len(browser.find_elements(By.CSS_SELECTOR, "#sample-chart rect.bar.clean"))

    WebDriverWait(browser, 120).until(lambda d: d.find_element(By.ID, "run-attack").is_enabled())
    Select(browser.find_element(By.ID, "attack")).select_by_value(ATTACK)
    Select(browser.find_element(By.ID, "profile")).select_by_value("tiny")
    people = browser.find_element(By.ID, "people")
    people.clear()
    people.send_keys("0")
    browser.find_element(By.ID, "run-attack").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "job-status").text.startswith("Job "))
    job_id = browser.find_element(By.ID, "job-status").text.split()[1].rstrip(":")
    try:
        check_the_run(live_server, browser, job_id)
    finally:
        shutil.rmtree(job_settings().folder / job_id, ignore_errors=True)
    assert live_server.admin("GET", f"/admin/models/{MODEL}/defense").json()["spec"] == model_setting
    assert console_errors(browser) == []


def check_the_run(live_server, browser, job_id: str) -> None:
    """Reconstruction, photo, figures and charts of the launched job, as the page shows them."""

    WebDriverWait(browser, 240).until(lambda d: loaded_images(d, "#gallery img.reconstruction") >= 1)
    WebDriverWait(browser, 30).until(lambda d: loaded_images(d, "#gallery img.photo") >= 1)
    full_page_screenshot(browser, "attack-page-reconstruction")
    WebDriverWait(browser, 240).until(
        lambda d: d.find_element(By.ID, "job-status").get_attribute("data-status") in ("done", "failed", "cancelled")
    )
    job = live_server.admin("GET", f"/ui/api/jobs/{job_id}").json()
    assert job["status"] == "done", job.get("error")
    assert job["spec"] == SPEC and job["files"] == ["recon-0.png"] and job["outputs"]["rows"] > 0
    assert browser.find_element(By.ID, "job-rows").text == f"{job['progress']['rows']:,}"
    success = job["outputs"]["success"]
    headline = browser.find_element(By.ID, "job-success").text
    if success["top1"] is None:
        assert "not judged" in headline and success["reason"] in headline
    else:
        assert f"{success['top1']:.3f}" in headline
    rows = browser.find_elements(By.CSS_SELECTOR, "#figures tbody tr")
    figures = {row.find_element(By.TAG_NAME, "th").text for row in rows}
    assert set(job["outputs"]["metrics"]) <= figures and "ssim_mean" in figures

    history = live_server.admin("GET", "/ui/api/history").json()
    judged = [
        p
        for p in history["runs"] + history["evaluation"]["points"]
        if p["model"] == MODEL and isinstance(p["success"], float) and isinstance(p["rounding"], float)
    ]
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, f'#runs tr[data-job="{job_id}"]'))
    chart = browser.find_element(By.CSS_SELECTOR, "#rounding-chart svg")
    assert int(chart.get_attribute("data-points")) == len(judged)
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle.point")) == len(judged)
    if success["top1"] is not None:
        assert chart.find_elements(By.CSS_SELECTOR, "circle.point.run")
    assert browser.find_elements(By.CSS_SELECTOR, "#tradeoff-chart svg line.candidate")
    full_page_screenshot(browser, "attack-page-finished")

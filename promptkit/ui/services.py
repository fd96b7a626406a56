"""What the playground pages do, without Streamlit: thin functions over the library that the pages render.

Nothing here draws anything, so every behaviour is testable with plain pytest and the fakes of
:mod:`promptkit.testing`. Writes (label moves) go through the prompt registry, which only writes to the
project.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# -- the chain `promptkit ask` uses --------------------------------------------------------------------------


def default_ask_chain() -> str:
    """The chain ``promptkit ask`` answers with when no ``--chain`` is given."""
    from promptkit.chains.session import DEFAULT_CHAIN

    return DEFAULT_CHAIN


# -- answers: today's rag_course output and the tutor's ------------------------------------------------------


@dataclass(frozen=True)
class SourceView:
    """One numbered source under an answer."""

    n: int
    source: str
    title: str
    text: str
    cited: bool
    chunk: int | None = None
    score: float | None = None


@dataclass(frozen=True)
class SentenceView:
    text: str
    cites: list[int]
    support: float | None
    supported: bool | None


@dataclass
class AnswerView:
    """An answer ready to show: its text (with ``[n]`` marks), whether the chain declined, and the sources."""

    question: str
    answer: str
    declined: bool
    reason: str | None
    sources: list[SourceView]
    sentences: list[SentenceView] = field(default_factory=list)
    chain: str | None = None
    prompt: str | None = None
    model: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def cited_numbers(self) -> list[int]:
        """The source numbers the answer cites (its ``[n]`` marks, else the sources flagged as cited)."""
        marks = sorted({int(n) for n in re.findall(r"\[(\d+)\]", self.answer)})
        return marks or [s.n for s in self.sources if s.cited]


#: why a chain gave no answer, in words (rag_course's abstain reasons and the tutor's decline reasons)
REASONS = {
    "ungrounded": "a resposta do modelo não aparece nos trechos recuperados e foi descartada",
    "abstained": "os trechos recuperados não respondem à pergunta",
    "no_context": "nenhum trecho do curso foi recuperado",
    "cross_check": "a verificação cruzada não encontrou a resposta nos trechos",
    "out_of_scope": "a pergunta está fora do assunto do curso",
    "no_support": "o material do curso não sustenta uma resposta",
    "instructions_in_sources": "os trechos recuperados traziam instruções, não conteúdo",
}
NO_ANSWER = "Não encontrei isso no material do curso."


def answer_view(out: Mapping[str, Any]) -> AnswerView:
    """Read a QA chain's output dict: the tutor's shape (numbered ``citations`` with text, ``declined``,
    ``sentences``) or rag_course's (``sources`` + parallel ``contexts``, ``citations`` without numbers,
    ``abstained``)."""
    answer = str(out.get("answer") or "")
    declined = bool(out.get("declined", False) or out.get("abstained", False))
    reason = out.get("decline_reason") or out.get("abstain_reason")
    citations = [c for c in out.get("citations") or [] if isinstance(c, Mapping)]
    sources: list[SourceView] = []
    tutor = "declined" in out or (citations and all("n" in c for c in citations))
    if tutor:  # the tutor: its citations are the numbered sources (none when it declines)
        for c in sorted(citations, key=lambda c: int(c["n"])):
            sources.append(
                SourceView(
                    n=int(c["n"]),
                    source=str(c.get("source") or ""),
                    title=str(c.get("title") or ""),
                    text=str(c.get("text") or ""),
                    cited=True,
                    chunk=c.get("chunk"),
                    score=c.get("score"),
                )
            )
    else:
        contexts = list(out.get("contexts") or [])
        cited = {(c.get("source"), c.get("chunk")) for c in citations}
        for i, s in enumerate(out.get("sources") or [], start=1):
            if not isinstance(s, Mapping):
                continue
            sources.append(
                SourceView(
                    n=i,
                    source=str(s.get("source") or ""),
                    title=str(s.get("title") or ""),
                    text=str(contexts[i - 1]) if i - 1 < len(contexts) else "",
                    cited=(s.get("source"), s.get("chunk")) in cited,
                    chunk=s.get("chunk"),
                    score=s.get("score"),
                )
            )
    if declined and not answer:
        answer = NO_ANSWER
    sentences = [
        SentenceView(
            text=str(s.get("text", "")),
            cites=[int(n) for n in s.get("cites") or []],
            support=s.get("support"),
            supported=s.get("supported"),
        )
        for s in out.get("sentences") or []
        if isinstance(s, Mapping)
    ]
    timings = {k: float(v) for k, v in (out.get("timings") or {}).items() if isinstance(v, (int, float))}
    return AnswerView(
        question=str(out.get("question") or ""),
        answer=answer,
        declined=declined,
        reason=str(reason) if reason else None,
        sources=sources,
        sentences=sentences,
        chain=out.get("chain"),
        prompt=out.get("prompt"),
        model=out.get("model"),
        timings=timings,
    )


def reason_text(reason: str | None) -> str:
    return REASONS.get(reason or "", reason or "")


#: keys a streamed chunk may carry a piece of text under
_TEXT_KEYS = ("raw", "answer", "text", "delta", "token")


class StreamReader:
    """Folds what a chain streams into the text seen so far and the final output dict.

    A chunk that is a string, or a dict holding only one text key (``raw``, ``answer``…), is a piece of text;
    a dict with more keys carries the output (later chunks win)."""

    def __init__(self) -> None:
        self.text = ""
        self.final: dict[str, Any] = {}

    def feed(self, chunk: Any) -> str:
        """Take one chunk; returns the piece of text it added ('' if none)."""
        if isinstance(chunk, str):
            self.text += chunk
            return chunk
        if hasattr(chunk, "content") and isinstance(chunk.content, str):  # a message chunk
            self.text += chunk.content
            return chunk.content
        if not isinstance(chunk, Mapping):
            return ""
        keys = set(chunk)
        if len(keys) == 1 and next(iter(keys)) in _TEXT_KEYS and isinstance(next(iter(chunk.values())), str):
            piece = next(iter(chunk.values()))
            self.text += piece
            return piece
        self.final.update(chunk)
        return ""

    def output(self) -> dict[str, Any]:
        out = dict(self.final)
        if not out.get("answer") and self.text and not out.get("abstained") and not out.get("declined"):
            out["answer"] = self.text.strip()
        return out


def preferred_prompt(infos: Iterable[Any], *, versions: int = 1) -> str | None:
    """The prompt a page shows first, among those with at least ``versions`` versions: the project's own
    first prompt when it also sees shipped ones (a user project), else the prompt of the chain ``promptkit
    ask`` uses, else the prompt the most chains use (then the one with the most versions)."""
    from promptkit.paths import PROJECT, SHIPPED

    infos = list(infos)
    eligible = [i for i in infos if len(i.versions) >= versions] or infos
    own = [i.name for i in eligible if i.origin == PROJECT]
    if own and any(i.origin == SHIPPED for i in infos):
        return own[0]
    uses: dict[str, int] = {}
    ask_prompt = None
    try:
        from promptkit.chains import get_definition, list_chains
        from promptkit.prompts.store import parse_ref

        ask_prompt = parse_ref(get_definition(default_ask_chain()).prompt)[0]
        for chain in list_chains():
            definition = get_definition(chain)
            for ref in filter(None, (definition.prompt, definition.cross_check)):
                uses[parse_ref(ref)[0]] = uses.get(parse_ref(ref)[0], 0) + 1
    except Exception:  # noqa: BLE001 - only a preference
        pass
    names = [i.name for i in eligible]
    if ask_prompt in names:
        return ask_prompt
    ranked = sorted(eligible, key=lambda i: (-uses.get(i.name, 0), -len(i.versions), i.name))
    return ranked[0].name if ranked else None


# -- prompt laboratory ---------------------------------------------------------------------------------------


@dataclass
class LabResult:
    """One side of a side-by-side run: what was sent, what came back, how long it took."""

    title: str
    ref: str
    model: str
    rendered: str
    answer: str
    input_tokens: int | None
    output_tokens: int | None
    latency_s: float
    cached: bool = False  # replayed from the replay cache, not generated now


def prompt_variables(refs: Iterable[str]) -> list[str]:
    """The input variables of the given versions, in first-seen order."""
    from promptkit.prompts import get_prompt_spec

    out: list[str] = []
    for ref in refs:
        for name in get_prompt_spec(ref, lint=False).input_variables:
            if name not in out:
                out.append(name)
    return out


def run_prompt(
    ref: str, values: Mapping[str, Any], llm: Any, *, embeddings: Any = None, title: str | None = None
) -> LabResult:
    """Render ``ref`` with ``values`` and send it to ``llm`` with the version's generation settings."""
    from langchain_core.prompts import ChatPromptTemplate

    from promptkit.prompts import get_prompt_spec, load_prompt
    from promptkit.prompts.build import render_text

    spec = get_prompt_spec(ref)
    prompt = load_prompt(ref, embeddings=embeddings)
    values = {k: values.get(k, "") for k in spec.input_variables}
    rendered = render_text(prompt, values)
    payload = (
        prompt.format_messages(**values)
        if isinstance(prompt, ChatPromptTemplate)
        else prompt.format(**values)
    )
    gen = spec.generation
    options = (
        {
            k: v
            for k, v in {
                "temperature": gen.temperature,
                "max_new_tokens": gen.max_new_tokens,
                "stop": gen.stop,
            }.items()
            if v is not None
        }
        if gen is not None
        else {}
    )
    cache = getattr(llm, "cache", None)
    hits = getattr(cache, "hits", None)
    start = time.perf_counter()
    message = llm.invoke(payload, **options)
    latency = time.perf_counter() - start
    cached = isinstance(hits, int) and getattr(cache, "hits", hits) > hits
    usage = getattr(message, "usage_metadata", None) or {}
    return LabResult(
        title=title or spec.ref,
        ref=spec.ref,
        model=str(getattr(llm, "model_id", "") or "?"),
        rendered=rendered,
        answer=str(message.content),
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        latency_s=latency,
        cached=cached,
    )


def llm_names() -> list[str]:
    """Catalogued language models whose weights are installed (the default first)."""
    from promptkit.weights import DEFAULT_LLM, installed, list_models

    names = [e.name for e in list_models("llm") if installed(e)]
    return sorted(names, key=lambda n: (n != DEFAULT_LLM, n))


# -- datasets ------------------------------------------------------------------------------------------------


def squad_datasets() -> dict[str, Path]:
    """``{name: path}`` of the SQuAD-style datasets of the project and the shipped ones (project first)."""
    from promptkit.paths import layer_dirs

    out: dict[str, Path] = {}
    for _, folder in layer_dirs("eval/datasets"):
        for path in sorted(folder.glob("*.json")):
            out.setdefault(path.stem, path)
    return out


def dataset_questions(name: str) -> list[dict[str, str]]:
    """``[{"id", "question", "context", "split"}]`` of one dataset."""
    from promptkit.datasets import load_squad

    path = squad_datasets().get(name)
    if path is None:
        from promptkit.errors import unknown

        raise unknown("dataset", name, squad_datasets())
    return [
        {"id": e.id, "question": e.question, "context": e.context, "split": e.split or ""}
        for e in load_squad(path)
    ]


# -- evaluation results --------------------------------------------------------------------------------------

#: folders of the project searched for results files (``promptkit eval run --out``)
RESULT_DIRS = ("eval/results", "runs", "results")

#: SQuAD's metric keys as the playground shows them; every other metric keeps its name in the task
METRIC_LABELS = {
    "exact": "EM",
    "f1": "F1",
    "exact_pt": "EM (pt)",
    "f1_pt": "F1 (pt)",
    "HasAns_exact": "HasAns EM",
    "HasAns_f1": "HasAns F1",
    "NoAns_exact": "NoAns EM",
    "NoAns_f1": "NoAns F1",
}

#: the evaluation tasks in the playground's words
TASK_LABELS = {
    "squad": "perguntas e respostas (SQuAD)",
    "longform": "respostas do tutor",
    "moderation": "moderação",
    "summaries": "resumos",
    "classification": "classificação",
}


def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name)


def task_label(name: str) -> str:
    return TASK_LABELS.get(name, name)


def result_files(project: Path) -> list[Path]:
    """Results files of any task (schemas ``promptkit.eval/v1`` and ``v2``) under the project's results
    folders, newest first."""
    found: list[Path] = []
    for rel in RESULT_DIRS:
        folder = project / rel
        if folder.is_dir():
            found += [p for p in folder.rglob("*.json") if _looks_like_result(p)]
    return sorted(set(found), key=lambda p: (-p.stat().st_mtime, str(p)))


def _looks_like_result(path: Path) -> bool:
    from promptkit.evaluation.results import RESULTS_SCHEMA, TASK_RESULTS_SCHEMA

    try:
        with path.open("rb") as handle:
            head = handle.read(200)
    except OSError:
        return False
    return any(f'"{schema}"'.encode() in head for schema in (RESULTS_SCHEMA, TASK_RESULTS_SCHEMA))


def run_group(result: Any) -> str:
    """The runs that can be compared share this: the task, the dataset, the split and the mode."""
    return (
        f"{task_label(result.task)} · {result.dataset.name} · split {result.dataset.split or 'todas'} · "
        f"modo {result.mode}"
    )


def short_labels(paths: list[Path], results: Mapping[Path, Any]) -> dict[Path, str]:
    """The prompt ref of each run, with its file name where two runs share a ref."""
    refs = [results[p].label for p in paths]
    return {
        p: results[p].label if refs.count(results[p].label) == 1 else f"{results[p].label} ({p.stem})"
        for p in paths
    }


def headline_text(result: Any) -> str:
    """The task's headline metrics of a run in one line (``EM 41.2 · F1 55.0``)."""
    from promptkit.evaluation.tasks import task_of

    task = task_of(result)
    return " · ".join(
        f"{metric_label(name)} {task.spec(name).fmt(value)}"
        for name in task.headline
        if (value := result.metric(name)) is not None
    )


def files_table(results: Mapping[Path, Any], root: Path) -> list[dict[str, Any]]:
    """One row per results file: where it is, what ran, on what, its headline scores and when."""
    rows = []
    for path, r in results.items():
        try:
            where = path.relative_to(root).as_posix()
        except ValueError:
            where = str(path)
        rows.append(
            {
                "arquivo": where,
                "tarefa": task_label(r.task),
                "chain": r.chain,
                "prompt": r.prompt.ref or "—",
                "conjunto": r.dataset.name,
                "split": r.dataset.split or "todas",
                "modo": r.mode,
                "itens": r.dataset.total,
                "principais métricas": headline_text(r),
                "quando": r.timestamp[:16].replace("T", " "),
            }
        )
    return rows


def chart_metrics(task: Any) -> list[str]:
    """The metrics a chart of this task may draw: its headline and per-row metrics that have a better
    direction (shares, or SQuAD's points), not lengths or counts; headline first."""
    drawable = {
        s.name for s in task.metrics if s.better is not None and (s.per_row or s.name in task.headline)
    }
    ordered = [*task.headline, *(s.name for s in task.metrics)]
    return list(dict.fromkeys(n for n in ordered if n in drawable))


def chart_scale(task: Any) -> float:
    """The top of a chart's axis: 100 for metrics in points (SQuAD), 1 for shares."""
    return 100.0 if any(task.spec(n).scale == 100.0 for n in chart_metrics(task)) else 1.0


def metric_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Long-format rows for a chart: one per run and drawable metric (:func:`chart_metrics`), with the 95% CI
    of the run's bootstrap."""
    from promptkit.evaluation.tasks import task_of

    rows = []
    for label, result in results.items():
        task = task_of(result)
        for name in chart_metrics(task):
            value = result.metric(name)
            if value is None:
                continue
            ci = result.ci.get(name) or {}
            rows.append(
                {
                    "execução": label,
                    "prompt": result.label,
                    "métrica": metric_label(name),
                    "valor": float(value),
                    "ic_inferior": float(ci.get("low", value)),
                    "ic_superior": float(ci.get("high", value)),
                    "itens": result.dataset.total,
                }
            )
    return rows


def metrics_table(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per run: its model, items and every metric of the task that has a value (headline first),
    rounded as the task shows it."""
    from promptkit.evaluation.summary import shown_metrics
    from promptkit.evaluation.tasks import task_of

    rows = []
    for label, result in results.items():
        task = task_of(result)
        row: dict[str, Any] = {
            "execução": label,
            "modelo": result.model.id or "—",
            "itens": result.dataset.total,
        }
        for name in shown_metrics(task, result):
            digits, value = task.spec(name).digits, float(result.metric(name))
            row[metric_label(name)] = round(value, digits) if digits else int(round(value))
        rows.append(row)
    return rows


def metric_meanings(task: Any, names: Iterable[str]) -> list[dict[str, str]]:
    """What each metric measures (the task's own description)."""
    return [{"métrica": metric_label(n), "o que mede": task.spec(n).description} for n in names]


def run_tables(result: Any) -> list[Any]:
    """The tables ``promptkit eval report`` shows besides a run's metrics: the metrics per group of items (per
    language, per question type…) and the task's own (per category, per label, the confusion matrix)."""
    from promptkit.evaluation.summary import breakdown_tables
    from promptkit.evaluation.tasks import task_of

    task = task_of(result)
    return [*breakdown_tables(task, result), *task.tables(result.metrics)]


def table_rows(table: Any) -> list[dict[str, str]]:
    """A :class:`promptkit.evaluation.tasks.Table` as dataframe rows (its header names the columns)."""
    return [dict(zip(table.header, row, strict=True)) for row in table.rows]


def comparison_rows(comparison: Any) -> list[dict[str, Any]]:
    """The deltas of :func:`promptkit.evaluation.compare` as table rows, rounded as the task shows them."""
    from promptkit.evaluation.tasks import get_task

    task = get_task(comparison.task)
    rows = []
    for name, d in comparison.deltas.items():
        digits = task.spec(name).digits
        rows.append(
            {
                "métrica": metric_label(name),
                "A": round(d["a"], digits),
                "B": round(d["b"], digits),
                "B − A": round(d["delta"], digits),
                "IC 95% inferior": round(d["low"], digits),
                "IC 95% superior": round(d["high"], digits),
                "P(B > A)": round(d["p_b_better"], 2),
                "itens": d.get("n", comparison.common),
            }
        )
    return rows


def flip_sections(comparison: Any) -> list[tuple[str, list[Any]]]:
    """The comparison's lists of items that changed, titled: correct → wrong and wrong → correct by the task's
    rule, then the items whose graded score fell without flipping (for tasks that grade one)."""
    rule = comparison.correct_rule
    sections = [
        (f"Certa → errada ({rule})", comparison.correct_to_wrong),
        (f"Errada → certa ({rule})", comparison.wrong_to_correct),
    ]
    if comparison.drop_metric:
        sections.append((f"{metric_label(comparison.drop_metric)} caiu sem virar errada", comparison.drops))
    return sections


def flip_rows(flips: Iterable[Any]) -> list[dict[str, Any]]:
    """Flipped items as table rows: the item, what it expects, both answers and how the score moved."""
    return [
        {
            "id": f.id,
            "pergunta": f.question,
            "gabarito": " | ".join(f.gold) or "(sem resposta)",
            "resposta A": f.prediction_a or "∅",
            "resposta B": f.prediction_b or "∅",
            "mudança": f.note,
        }
        for f in flips
    ]


@dataclass
class RowDetail:
    """One item of one run as the page shows it up close (through the task's ``row_view``)."""

    id: str
    question: str
    gold: list[str]
    prediction: str
    raw: str
    verdict: str  # "certa", "parcial", "errada" or "" (the item does not count)
    scores: dict[str, str]  # metric label → value with a decimal comma, for the per-row metrics that apply
    latency_s: float
    citations: list[dict[str, Any]] = field(default_factory=list)  # the tutor's numbered sources
    declined: bool = False  # the tutor declined; a SQuAD chain abstained
    details: dict[str, Any] = field(default_factory=dict)  # how the scores came about (the task's record)


def row_detail(result: Any, item_id: str) -> RowDetail | None:
    """An item of a run read through its task, or ``None`` when the run lacks it. The verdict is the task's
    (SQuAD: EM); a wrong item whose graded score is above zero is partial. Per-row scores in [0, 1] get two
    decimals, other figures (a length in words) the task's own."""
    from promptkit.evaluation.tasks import task_of

    row = result.row_map().get(item_id)
    if row is None:
        return None
    task = task_of(result)
    view = task.row_view(row)
    raw_scores = task.row_scores(row)
    correct = task.row_correct(row)
    graded = raw_scores.get(task.drop_metric) if task.drop_metric else None
    verdict = (
        ""
        if correct is None
        else "certa"
        if correct
        else "parcial"
        if graded is not None and graded > 0
        else "errada"
    )
    scores = {}
    for name, value in raw_scores.items():
        if value is None:
            continue
        spec = task.spec(name)
        digits = spec.digits if spec.better is None else 2
        scores[metric_label(name)] = f"{value:.{digits}f}".replace(".", ",")
    output = getattr(row, "output", {}) or {}
    details = dict(getattr(row, "details", {}) or {})
    if getattr(row, "check_raw", None) is not None:
        details["cross_check"] = row.check_raw
    if getattr(row, "sources", None):
        details["sources"] = row.sources
    return RowDetail(
        id=row.id,
        question=view.question,
        gold=list(view.gold),
        prediction=view.prediction,
        raw=view.raw,
        verdict=verdict,
        scores=scores,
        latency_s=float(row.latency_s),
        citations=[c for c in output.get("citations") or [] if isinstance(c, Mapping)],
        declined=bool(output.get("declined", getattr(row, "abstained", False))),
        details=details,
    )


# -- registry: labels guarded by the regression check --------------------------------------------------------


@dataclass
class LabelCheck:
    """The regression check of a label move, run before the move is applied."""

    name: str
    version: int
    label: str
    entries: list[Any] = field(default_factory=list)  # promptkit.regression.EntryCheck
    missing: list[str] = field(default_factory=list)  # suite entries guarding the prompt with no baseline yet

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    @property
    def checked(self) -> bool:
        return bool(self.entries)


def guarding_entries(name: str) -> list[tuple[Any, Any]]:
    """``(suite, entry)`` of every project suite entry whose prompt is a version of ``name`` (any label)."""
    from promptkit.chains import get_definition
    from promptkit.prompts.store import parse_ref
    from promptkit.regression import list_suites, load_suite

    out = []
    for path in list_suites():
        suite = load_suite(path)
        for entry in suite.entries:
            ref = entry.prompt
            if ref is None:
                try:
                    ref = get_definition(entry.chain).prompt
                except Exception:  # noqa: BLE001 - an unknown chain fails in the check itself
                    continue
            if parse_ref(ref)[0] == name:
                out.append((suite, entry))
    return out


def check_label_move(
    name: str, version: int, label: str, *, llm: Any = None, cache: str = "use", on_entry: Any = None
) -> LabelCheck:
    """Check ``name@version`` against the baselines of every suite entry guarding ``name``, before a label
    points at it: each entry is re-run with its prompt replaced by the candidate version."""
    from promptkit.regression import check_entry
    from promptkit.regression.baseline import baseline_path

    report = LabelCheck(name=name, version=version, label=label)
    for suite, entry in guarding_entries(name):
        if not baseline_path(suite, entry.id).is_file():
            report.missing.append(f"{suite.name}/{entry.id}")
            continue
        candidate = entry.model_copy(update={"prompt": f"{name}@{version}"})
        done = check_entry(suite, candidate, cache=cache, llm=llm, show_progress=False)
        report.entries.append(done)
        if on_entry is not None:
            on_entry(done)
    return report


def apply_label(name: str, version: int, label: str) -> Any:
    """Point ``label`` at ``name@version`` in the project's registry (a shipped prompt is copied there
    first)."""
    from promptkit.prompts.manage import set_label

    return set_label(f"{name}@{version}", label)


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot be used ('' → None when it can)."""
    from promptkit.prompts.names import LABEL_PATTERN, RESERVED_LABELS

    if not label:
        return "escreva o nome do rótulo"
    if label in RESERVED_LABELS:
        return f"o rótulo {label!r} é implícito (a versão mais nova) e não pode ser movido"
    if not re.match(LABEL_PATTERN, label):
        return "use letras minúsculas, dígitos, - e _ no nome do rótulo"
    return None


# -- moderation ----------------------------------------------------------------------------------------------

CATEGORY_NAMES = {
    "hate": "Ódio",
    "harassment": "Assédio",
    "violence": "Violência",
    "self_harm": "Autolesão",
    "sexual": "Conteúdo sexual",
    "illegal": "Atividades ilegais",
    "privacy": "Privacidade",
    "unspecified": "Não especificada",
}
RULE_LEVELS = {"high": "alta", "low": "baixa", None: "—"}


def category_name(category: str) -> str:
    return CATEGORY_NAMES.get(category, category)


def moderation_rows(out: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per category of a moderation verdict: the decision, the rule matches and the LLM's flag."""
    rows = []
    for category, v in (out.get("verdicts") or {}).items():
        rows.append(
            {
                "categoria": category_name(category),
                "veredito": "inseguro" if v.get("unsafe") else "seguro",
                "regras": RULE_LEVELS.get(v.get("rules"), str(v.get("rules"))),
                "trechos encontrados": ", ".join(v.get("matches") or []) or "—",
                "regras acionadas": ", ".join(v.get("rule_names") or []) or "—",
                "contexto seguro": v.get("safe_context") or "—",
                "modelo sinalizou": "sim" if v.get("llm") else "não",
            }
        )
    return rows

"""SQuAD 2.0 question answering: EM and F1 by the official rules, with Portuguese-normalised twins.

The chain reads ``{"question", "context"}`` (``context=None`` in rag mode, where it retrieves) and answers
with a short span or an abstention. Scores per question: ``exact`` (0/1) and ``f1`` with the official
normaliser, ``exact_pt``/``f1_pt`` with ``pt-v1``; the run's metrics are those of the official v2.0 script
(:func:`promptkit.metrics.squad_v2_eval`) in percent, with bootstrap intervals; a row is correct when its EM
is 1. Results keep their own file schema, ``promptkit.eval/v1``
(:class:`~promptkit.evaluation.results.EvalResult`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from promptkit import metrics as M
from promptkit.datasets import SquadDataset, SquadExample, load_squad
from promptkit.errors import ValidationError
from promptkit.evaluation.results import EvalResult, EvalRow, RetrievalStats
from promptkit.evaluation.tasks.base import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MetricSpec, RowView, Task
from promptkit.text import map_abstention, normalize_answer_pt

_POINTS = {"scale": 100.0, "digits": 1, "unit": " points"}


def _hit_rank(answers: Sequence[str], contexts: Sequence[str]) -> int:
    golds = [f" {M.normalize_answer(a)} " for a in answers if M.normalize_answer(a)]
    for rank, context in enumerate(contexts, start=1):
        haystack = f" {M.normalize_answer(context)} "
        if any(g in haystack for g in golds):
            return rank
    return 0


def make_row(
    example: SquadExample, out: dict[str, Any], mode: str, latency: float, extra_abstentions: Sequence[str]
) -> EvalRow:
    """One scored question: the answer (an abstention in words becomes ``""``), EM/F1 both ways, hit rank."""
    raw = str(out.get("raw", out.get("answer", "")) or "")
    answer = str(out.get("answer", raw) or "")
    prediction = "" if out.get("abstained") else map_abstention(answer, extra_abstentions)
    exact, f1 = M.score_answer(example.answers, prediction)
    exact_pt, f1_pt = M.score_answer(example.answers, prediction, normalize_answer_pt)
    na_prob = out.get("na_prob", out.get("no_answer_prob"))
    contexts = [str(c) for c in (out.get("contexts") or [])]
    if out.get("context_order") == "best_last":
        contexts = contexts[::-1]  # hit@k counts by retrieval rank, not by the order the prompt shows them
    hit = None
    if mode == "rag" and not example.is_impossible and contexts:
        hit = _hit_rank(example.answers, contexts)
    sources = [
        {k: s.get(k) for k in ("source", "title", "chunk", "score", "id") if k in s}
        for s in (out.get("sources") or [])
        if isinstance(s, dict)
    ]
    return EvalRow(
        id=example.id,
        question=example.question,
        answers=list(example.answers),
        is_impossible=example.is_impossible,
        split=example.split,
        prediction=prediction,
        raw=raw,
        exact=int(exact),
        f1=float(f1),
        exact_pt=int(exact_pt),
        f1_pt=float(f1_pt),
        abstained=prediction == "",
        na_prob=None if na_prob is None else float(na_prob),
        sources=sources,
        hit_rank=hit,
        examples=[str(e) for e in (out.get("examples") or [])],
        check_raw=(out.get("cross_check") or {}).get("raw"),
        latency_s=latency,
    )


def score_rows(rows: Sequence[EvalRow], *, na_prob_thresh: float = 1.0) -> tuple[dict, dict, dict]:
    """Official metrics, Portuguese-normalised metrics and bootstrap intervals for a list of rows."""
    golds = {r.id: r.answers for r in rows}
    preds = {r.id: r.prediction for r in rows}
    na_probs = {r.id: r.na_prob for r in rows if r.na_prob is not None}
    na = na_probs if rows and len(na_probs) == len(rows) else None
    official = M.squad_v2_eval(golds, preds, na_probs=na, na_prob_thresh=na_prob_thresh)
    pt = M.squad_v2_eval(
        golds, preds, na_probs=na, na_prob_thresh=na_prob_thresh, normalizer=normalize_answer_pt
    )
    ci: dict[str, dict[str, Any]] = {}
    if rows:
        columns = {
            "exact": [r.exact for r in rows],
            "f1": [r.f1 for r in rows],
            "exact_pt": [r.exact_pt for r in rows],
            "f1_pt": [r.f1_pt for r in rows],
        }
        for name, values in columns.items():
            ci[name] = M.bootstrap_ci(values, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    return official, pt, ci


def retrieval_stats(rows: Sequence[EvalRow], k: int) -> RetrievalStats | None:
    ranked = [r.hit_rank for r in rows if r.hit_rank is not None]
    if not ranked:
        return None
    return RetrievalStats(
        k=k,
        hit_at_1=100.0 * sum(1 for h in ranked if h == 1) / len(ranked),
        hit_at_k=100.0 * sum(1 for h in ranked if h >= 1) / len(ranked),
        total=len(ranked),
    )


def abstain_phrases(prompt: str | None) -> list[str]:
    """The prompt's own abstention phrase, when the prompt registry knows it."""
    if not prompt:
        return []
    try:
        from promptkit.prompts import get_prompt_spec

        phrase = getattr(get_prompt_spec(prompt), "abstain_phrase", None)
    except Exception:  # noqa: BLE001 - the prompt is validated by the chain itself
        return []
    return [phrase] if phrase else []


class SquadTask(Task):
    """SQuAD 2.0 question answering (see the module docstring)."""

    name: ClassVar[str] = "squad"
    title: ClassVar[str] = "SQuAD 2.0 question answering"
    file_suffix: ClassVar[str] = ".json"
    modes: ClassVar[tuple[str, ...]] = ("reading", "rag")
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("exact", "exact match, official normaliser", **_POINTS),
        MetricSpec("f1", "token F1, official normaliser", **_POINTS),
        MetricSpec("exact_pt", "exact match, pt-v1 normaliser", **_POINTS),
        MetricSpec("f1_pt", "token F1, pt-v1 normaliser", **_POINTS),
        MetricSpec("HasAns_exact", "EM on answerable questions", digits=1, unit=" points", per_row=False),
        MetricSpec("HasAns_f1", "F1 on answerable questions", digits=1, unit=" points", per_row=False),
        MetricSpec("NoAns_exact", "EM on unanswerable questions", digits=1, unit=" points", per_row=False),
        MetricSpec("NoAns_f1", "F1 on unanswerable questions", digits=1, unit=" points", per_row=False),
    )
    headline: ClassVar[tuple[str, ...]] = ("exact", "f1")
    drop_metric: ClassVar[str | None] = "f1"
    correct_rule: ClassVar[str] = "EM"
    item_word: ClassVar[str] = "question"
    size_hint: ClassVar[str] = "shorten that question in the dataset; long material belongs in its context"

    def __init__(self) -> None:
        super().__init__()
        self.na_prob_thresh = 1.0
        self.abstentions: list[str] = []

    def start(self, *, prompt: str | None = None, na_prob_thresh: float = 1.0, **options: Any) -> None:
        super().start(prompt=prompt, **options)
        self.na_prob_thresh = na_prob_thresh
        self.abstentions = abstain_phrases(prompt)

    @classmethod
    def recognises(cls, row: Mapping[str, Any]) -> bool:
        return False  # a SQuAD dataset is a JSON file, never JSON Lines

    def load(self, dataset: Any) -> SquadDataset:
        if isinstance(dataset, SquadDataset):
            return dataset
        from promptkit.datasets import resolve_dataset_path

        path = resolve_dataset_path(dataset)
        if path.suffix == ".jsonl":
            raise ValidationError(f"{path} is JSON Lines; a SQuAD dataset is one JSON file",
                                  hint="run it as the task its rows are written for (--task)")
        return load_squad(path)

    def check_mode(self, mode: str | None) -> str:
        chosen = mode or self.default_mode
        if chosen not in self.modes:
            raise ValidationError(f"unknown mode {chosen!r}; expected one of: {', '.join(self.modes)}")
        return chosen

    def chain_input(self, item: SquadExample, mode: str) -> dict[str, Any]:
        return {"question": item.question, "context": item.context if mode == "reading" else None}

    def make_row(self, item: SquadExample, output: dict[str, Any], *, mode: str, latency: float) -> EvalRow:
        return make_row(item, output, mode, latency, self.abstentions)

    def build_result(self, *, rows: list[Any], outputs: Sequence[dict[str, Any]], mode: str,
                     common: dict[str, Any], judge: Any = None) -> EvalResult:
        official, pt, ci = score_rows(rows, na_prob_thresh=self.na_prob_thresh)
        k = max((len(o.get("contexts") or []) for o in outputs), default=0)
        return EvalResult(
            mode=mode,  # type: ignore[arg-type]
            metrics=official,
            metrics_pt=pt,
            normalizers={"official": M.OFFICIAL_NORMALIZER, "pt": M.PT_NORMALIZER},
            ci=ci,
            retrieval=retrieval_stats(rows, k) if mode == "rag" else None,
            rows=rows,
            **common,
        )

    def row_scores(self, row: EvalRow) -> dict[str, float | None]:
        return {"exact": float(row.exact), "f1": row.f1, "exact_pt": float(row.exact_pt), "f1_pt": row.f1_pt}

    def row_correct(self, row: EvalRow) -> bool | None:
        return row.exact == 1

    def row_view(self, row: EvalRow) -> RowView:
        return RowView(row.question, list(row.answers), row.prediction, row.raw)

    def flip_note(self, scores_a: Mapping[str, float | None], scores_b: Mapping[str, float | None]) -> str:
        return f"F1 {scores_a.get('f1') or 0.0:.2f} → {scores_b.get('f1') or 0.0:.2f}"

    @property
    def drop_title(self) -> str:
        return "F1 drops"

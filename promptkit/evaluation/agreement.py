"""How well an LLM judge agrees with people: Cohen's kappa on hand-labelled answers.

Hand labels live in ``eval/datasets/tutor_judgments.jsonl``, one answer per line::

    {"id": "t-004@tutor_answer@1", "question_id": "t-004",
     "question": "Por que o Perceptron não resolve o XOR?",
     "answer": "O Perceptron traça uma fronteira linear [1]. ...",
     "sources": ["the text of chunk [1]", "the text of chunk [2]"],
     "labels": {"faithful": true, "answers": false},
     "annotator": "ab", "note": "cita [2] sem que o trecho fale disso"}

``id`` names the answer (unique in the file; the item id and the prompt version that produced it are a good
choice), ``sources`` are the texts of the chunks the answer cites, in citation order, and ``labels`` holds the
person's yes (true) or no (false) per judge criterion (:data:`promptkit.evaluation.judge.CRITERIA`); a
criterion left out was not labelled. :func:`label_template` turns a long-form results file into such lines
with empty labels, ready to be filled in.

:func:`judge_agreement` asks the judge every labelled criterion (through the replay cache) and reports, per
criterion, the observed agreement, Cohen's kappa with a bootstrap interval and the confusion table; undecided
verdicts count as "no" and are also counted apart.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from promptkit.errors import ValidationError

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters over the same items: ``(p_o - p_e) / (1 - p_e)``, with ``p_o`` the share of
    items they agree on and ``p_e`` the agreement expected by chance from each rater's label frequencies.

    1 is perfect agreement, 0 what chance gives, below 0 worse than chance. When both raters give every item
    the same single label (``p_e = 1``) the kappa is defined here as 1.0 (they agree on everything).

    >>> cohen_kappa([True, True, False, False], [True, True, False, False])
    1.0
    >>> cohen_kappa([True, False, True, False], [True, True, False, False])
    0.0
    >>> round(cohen_kappa(["y", "y", "y", "n", "n"], ["y", "y", "n", "n", "n"]), 3)
    0.615
    >>> cohen_kappa([True, False], [False, True])
    -1.0
    """
    if len(a) != len(b):
        raise ValidationError(f"kappa needs two label lists of one length, got {len(a)} and {len(b)}")
    if not a:
        raise ValidationError("kappa needs at least one labelled item")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def kappa_interval(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """A seeded percentile-bootstrap interval of Cohen's kappa (items resampled with replacement).

    >>> low, high = kappa_interval([1, 1, 0, 0, 1, 0] * 5, [1, 1, 0, 1, 1, 0] * 5, resamples=200)
    >>> -1.0 <= low <= cohen_kappa([1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 1, 0]) <= high <= 1.0
    True
    """
    rng = random.Random(seed)
    n = len(a)
    values = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        values.append(cohen_kappa([a[i] for i in idx], [b[i] for i in idx]))
    values.sort()
    alpha = (1.0 - level) / 2.0

    def at(q: float) -> float:
        pos = q * (len(values) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (pos - lo)

    return at(alpha), at(1.0 - alpha)


# -- hand labels ---------------------------------------------------------------------------------------------


class Judgment(BaseModel):
    """One hand-labelled answer (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question_id: str | None = None
    question: str = Field(min_length=1)
    answer: str
    sources: list[str] = Field(default_factory=list)
    labels: dict[str, bool | None]
    annotator: str | None = None
    note: str = ""

    @field_validator("labels")
    @classmethod
    def _known_criteria(cls, value: dict[str, bool | None]) -> dict[str, bool | None]:
        from promptkit.evaluation.judge import CRITERIA

        unknown = sorted(set(value) - set(CRITERIA))
        if unknown:
            raise ValueError(f"unknown criterion {', '.join(unknown)}; the judge asks: {', '.join(CRITERIA)}")
        return value

    def request(self) -> dict[str, Any]:
        """What the judge reads."""
        return {"question": self.question, "answer": self.answer, "sources": list(self.sources)}


def load_judgments(ref: str | os.PathLike[str]) -> list[Judgment]:
    """Hand labels from a JSON Lines file (a path, or a name under ``eval/datasets/``)."""
    from promptkit.datasets import parse_jsonl, resolve_dataset_path

    path = resolve_dataset_path(ref)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read hand labels {path}: {exc.strerror}") from None
    if not raw.strip():
        raise ValidationError(
            f"{path} holds no hand labels yet",
            hint="label some answers first (format: promptkit.evaluation.agreement)",
        )
    out = []
    for row in parse_jsonl(raw, name=str(path)):
        try:
            out.append(Judgment.model_validate(row.data))
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise ValidationError(
                f"{path}, line {row.line} (id {row.id!r}): {where}: "
                f"{first['msg'].removeprefix('Value error, ')}",
                hint=f"fields: {', '.join(Judgment.model_fields)}",
            ) from None
    return out


def label_template(result: Any) -> list[dict[str, Any]]:
    """Hand-label lines (labels still ``null``) for the answered rows of a long-form results object."""
    from promptkit.evaluation.judge import CRITERIA

    out = []
    version = result.prompt.ref or result.chain
    for row in result.rows:
        output = getattr(row, "output", None) or {}
        if output.get("declined") or not row.prediction.strip():
            continue
        out.append(
            {
                "id": f"{row.id}@{version}",
                "question_id": row.id,
                "question": row.question,
                "answer": row.prediction,
                "sources": [str(c.get("text") or "") for c in output.get("citations") or []],
                "labels": {c: None for c in CRITERIA},
                "annotator": None,
                "note": "",
            }
        )
    return out


# -- agreement -----------------------------------------------------------------------------------------------


@dataclass
class CriterionAgreement:
    """The judge against the people on one criterion."""

    criterion: str
    n: int
    agreement: float
    kappa: float
    kappa_low: float
    kappa_high: float
    confusion: dict[str, int] = field(default_factory=dict)
    undecided: int = 0
    disagreements: list[str] = field(default_factory=list)
    #: threshold-free: the chance that a human-yes answer gets a higher ``p_yes`` than a human-no one (None
    #: without log-probabilities or without both kinds of label)
    auc: float | None = None
    #: the ``p_yes`` threshold with the highest kappa on these labels, and that kappa (in-sample: a starting
    #: point for ``--judge-threshold``, to be confirmed on other labels)
    best_threshold: float | None = None
    best_kappa: float | None = None


def rank_auc(human: Sequence[bool], scores: Sequence[float]) -> float | None:
    """The area under the ROC curve of ``scores`` for the ``human`` yes labels (ties count half).

    >>> rank_auc([True, True, False], [0.9, 0.6, 0.7])
    0.5
    >>> rank_auc([True, False], [0.8, 0.3]), rank_auc([True, True], [0.8, 0.3])
    (1.0, None)
    """
    pos = [s for h, s in zip(human, scores, strict=True) if h]
    neg = [s for h, s in zip(human, scores, strict=True) if not h]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def best_threshold(human: Sequence[bool], scores: Sequence[float]) -> tuple[float, float] | None:
    """``(threshold, kappa)``: the ``p_yes`` cut (yes from it up) with the highest kappa against ``human``,
    placed halfway between two neighbouring scores so that a rounded copy of it cuts the same way.

    >>> best_threshold([True, True, False, False], [0.9, 0.8, 0.85, 0.3])
    (0.55, 0.5)
    """
    if len(set(human)) < 2:
        return None
    values = sorted(set(scores))
    best: tuple[float, float] | None = None
    for i, cut in enumerate(values):
        kappa = cohen_kappa(human, [s >= cut for s in scores])
        if best is None or kappa > best[1]:
            best = (cut if i == 0 else round((cut + values[i - 1]) / 2, 4), kappa)
    return best


@dataclass
class AgreementReport:
    judge: str
    labels: int
    criteria: list[CriterionAgreement]
    threshold: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def agreement_of(
    criterion: str,
    ids: Sequence[str],
    human: Sequence[bool],
    judge: Sequence[bool | None],
    *,
    scores: Sequence[float | None] | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> CriterionAgreement:
    """The agreement on one criterion from paired labels (an undecided verdict, ``None``, counts as no).
    ``scores``, the judge's ``p_yes`` per item when it read log-probabilities, add the AUC and the best
    threshold.

    >>> a = agreement_of("faithful", ["a", "b", "c", "d"], [True, True, False, False],
    ...                  [True, None, False, False])
    >>> a.agreement, round(a.kappa, 3), a.undecided, a.disagreements, a.confusion["human yes, judge no"]
    (0.75, 0.5, 1, ['b'], 1)
    """
    said = [bool(v) for v in judge]
    kappa = cohen_kappa(human, said)
    low, high = kappa_interval(human, said, resamples=resamples, seed=seed)
    confusion = {
        "human yes, judge yes": sum(h and j for h, j in zip(human, said, strict=True)),
        "human yes, judge no": sum(h and not j for h, j in zip(human, said, strict=True)),
        "human no, judge yes": sum(not h and j for h, j in zip(human, said, strict=True)),
        "human no, judge no": sum(not h and not j for h, j in zip(human, said, strict=True)),
    }
    return CriterionAgreement(
        criterion=criterion,
        n=len(human),
        agreement=sum(h == j for h, j in zip(human, said, strict=True)) / len(human),
        kappa=kappa,
        kappa_low=low,
        kappa_high=high,
        confusion=confusion,
        undecided=sum(v is None for v in judge),
        disagreements=[i for i, h, j in zip(ids, human, said, strict=True) if h != j],
        **_score_fields(human, scores),
    )


def _score_fields(human: Sequence[bool], scores: Sequence[float | None] | None) -> dict[str, Any]:
    if not scores or any(s is None for s in scores):
        return {}
    values = [float(s) for s in scores if s is not None]
    best = best_threshold(human, values)
    return {
        "auc": rank_auc(human, values),
        "best_threshold": best[0] if best else None,
        "best_kappa": best[1] if best else None,
    }


def judge_agreement(labels: Sequence[Judgment], judge: Any, *, cache: Any = "use") -> AgreementReport:
    """Ask ``judge`` (a chat model or an :class:`~promptkit.evaluation.judge.LLMJudge`) every labelled
    criterion of ``labels`` through the replay cache (a mode or an open :class:`~promptkit.cache.ReplayCache`)
    and compare its verdicts with the people's."""
    from promptkit.cache import global_cache
    from promptkit.evaluation.judge import CRITERIA, LLMJudge
    from promptkit.evaluation.runner import open_cache

    if not labels:
        raise ValidationError("no hand labels to compare with", hint="label some answers first")
    judge = judge if isinstance(judge, LLMJudge) else LLMJudge(judge)
    criteria = [c for c in CRITERIA if any(j.labels.get(c) is not None for j in labels)]
    if not criteria:
        raise ValidationError(
            "none of the hand labels says yes or no to a criterion",
            hint=f"fill in labels.{' / labels.'.join(CRITERIA)} with true or false",
        )
    replay, owned = open_cache(cache)
    try:
        with global_cache(replay):
            verdicts = judge.judge_many([j.request() for j in labels], criteria=criteria)
    finally:
        if owned:
            replay.close()
    out = []
    for c in criteria:
        chosen = [(j, v[c]) for j, v in zip(labels, verdicts, strict=True) if j.labels.get(c) is not None]
        out.append(
            agreement_of(
                c,
                [j.id for j, _ in chosen],
                [bool(j.labels[c]) for j, _ in chosen],
                [v.answer for _, v in chosen],
                scores=[v.p_yes for _, v in chosen],
            )
        )
    return AgreementReport(judge=judge.model_id, labels=len(labels), criteria=out, threshold=judge.threshold)


def format_agreement(report: AgreementReport) -> str:
    """The agreement as a plain-text table, with the ids the judge got wrong."""
    lines = [
        f"judge {report.judge} (yes from p_yes {report.threshold:g}) against {report.labels} "
        "hand-labelled answers",
        "",
    ]
    header = (
        "criterion",
        "n",
        "agreement",
        "kappa",
        "95% CI",
        "yes/yes",
        "yes/no",
        "no/yes",
        "no/no",
        "undecided",
        "AUC",
        "best threshold (kappa)",
    )

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    body = [
        (
            c.criterion,
            str(c.n),
            f"{c.agreement:.3f}",
            f"{c.kappa:.3f}",
            f"[{c.kappa_low:.3f}, {c.kappa_high:.3f}]",
            *(str(v) for v in c.confusion.values()),
            str(c.undecided),
            num(c.auc),
            "-" if c.best_threshold is None else f"{c.best_threshold:.3f} ({num(c.best_kappa)})",
        )
        for c in report.criteria
    ]
    from promptkit.evaluation.summary import table

    lines += table(header, body)
    lines.append(
        "(yes/no = human yes, judge no; AUC: how well p_yes ranks the people's yes above their no; the "
        "best threshold is fitted on these same labels, try it with --judge-threshold)"
    )
    for c in report.criteria:
        if c.disagreements:
            shown = ", ".join(c.disagreements[:20]) + (" …" if len(c.disagreements) > 20 else "")
            lines.append(f"{c.criterion}: the judge disagrees on {shown}")
    return "\n".join(lines)

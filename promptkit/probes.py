"""Linear probes: small logistic-regression heads over a local model's hidden states.

A probe reads one hidden state of the model the chain already runs (the residual stream after decoder layer
``layer``) at the last token of a rendered prompt, or averaged over the tokens of the input text, and applies one
logistic-regression head per decision (for moderation: "unsafe" and one per category; for sentiment: one per
label). It costs one forward pass that stops at ``layer``, no generation, and it learns what the prompt alone
cannot teach a small model: the labelled ``dev`` split says where the boundary lies.

* :func:`hidden_features` computes the vectors (batch of one per prompt, so a vector never depends on the
  other texts of a batch), stopping the forward pass after ``layer``; with a replay cache each vector is stored
  under the sha256 of its request (model, revision, dtype, rendered prompt, layer, pooling), so benchmarks and
  tests replay them.
* :class:`LinearProbe` holds standardisation, coefficients, intercepts and thresholds. It is saved as JSON with
  the sha256 of its canonical content inside (:meth:`LinearProbe.save`); :meth:`LinearProbe.load` refuses a file
  whose content no longer matches that hash. Nothing is pickled.
* :func:`fit_probe` trains the heads with scikit-learn (imported only there).
"""

from __future__ import annotations

import base64
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from promptkit.errors import IntegrityError, ValidationError
from promptkit.fileio import atomic_write_text, canonical_json, read_json, sha256_bytes

FORMAT = "promptkit-linear-probe/1"
POOLS = ("last", "mean")


class _Stop(Exception):
    """Raised by the forward hook once the wanted layer has run (the rest of the model is skipped)."""

    def __init__(self, hidden: Any = None):
        self.hidden = hidden


def _request(llm: Any, prompt: str, layer: int, pool: str, span: tuple[int, int] | None) -> dict[str, Any]:
    return {
        "kind": "hidden_state",
        "model": llm.model_id,
        "revision": llm.revision,
        "numerics": llm.numerics(),
        "prompt": prompt,
        "params": {"layer": layer, "pool": pool, "span": list(span) if span and pool == "mean" else None},
    }


def _encode(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


_PREFIXES: OrderedDict[tuple[int, int, tuple[int, ...]], Any] = OrderedDict()
_PREFIX_LOCK = threading.Lock()
MIN_PREFIX = 8  # shorter template prefixes are not worth keeping


def _run(model: Any, ids: list[int], stop: int, watch: Sequence[int], cache: Any) -> dict[int, Any]:
    """Run ``ids`` (after ``cache``'s positions) through the decoder layers up to ``stop``; the hidden states
    after each layer in ``watch`` (``(tokens, hidden)`` tensors)."""
    import torch

    from promptkit.llm.decoding.kv import cache_argument

    layers = model.model.layers
    seen: dict[int, Any] = {}
    handles = []

    def watcher(number: int) -> Any:
        def hook(_module: Any, _args: Any, output: Any) -> None:
            seen[number] = (output[0] if isinstance(output, tuple) else output)[0]
            if number == stop:
                raise _Stop(None)

        return hook

    for number in sorted(set(watch) | {stop}):
        handles.append(layers[number - 1].register_forward_hook(watcher(number)))
    try:
        with torch.inference_mode():
            try:
                model.model(
                    input_ids=torch.tensor([ids]), use_cache=True, **{cache_argument(model.model): cache}
                )
            except _Stop:
                pass
    finally:
        for handle in handles:
            handle.remove()
    return seen


def layer_states(
    llm: Any, prompt: str, layers: Sequence[int], span: tuple[int, int] | None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{layer: (last-token vector, mean over the span's tokens)}`` for one rendered prompt.

    The tokens before the input text (the template: system prompt and instructions) are run once per model and
    kept as a key/value cache; each prompt then runs only its own tokens after a copy of it, and the forward
    pass stops after the highest layer asked for."""
    from promptkit.llm.decoding.kv import copy_cache, new_cache

    backend = llm.backend
    tok, model = backend.tokenizer, backend.model
    count = len(model.model.layers)
    if not layers or not all(1 <= n <= count for n in layers):
        raise ValidationError(
            f"probe layers {list(layers)} must lie in the model's 1..{count} decoder layers"
        )
    enc = tok(prompt, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    if not ids:
        raise ValidationError("the probe's prompt encodes to no tokens")
    start, end = span if span else (0, len(prompt))
    inside = [i for i, (a, z) in enumerate(offsets) if z > a and a >= start and z <= end] or [len(ids) - 1]
    stop = max(layers)
    split = max(
        0, inside[0] - 1
    )  # the template before the text, one token kept back so the text never starts it
    key = (id(model), stop, tuple(ids[:split]))
    cache = None
    if split >= MIN_PREFIX:
        with _PREFIX_LOCK:
            cache = _PREFIXES.get(key)
            if cache is not None:
                _PREFIXES.move_to_end(key)
        if cache is None:
            cache = new_cache(model)
            _run(model, ids[:split], stop, [], cache)
            with _PREFIX_LOCK:
                _PREFIXES[key] = cache
                while len(_PREFIXES) > 8:
                    _PREFIXES.popitem(last=False)
        cache = copy_cache(cache)
    else:
        split = 0
        cache = new_cache(model)
    seen = _run(model, ids[split:], stop, layers, cache)
    rows = [i - split for i in inside]
    out = {}
    for n in layers:
        hidden = seen[n].float()
        out[n] = (hidden[-1].numpy().astype(np.float32), hidden[rows].mean(0).numpy().astype(np.float32))
    return out


PROBE_THREADS = 1


@contextmanager
def _probe_threads(llm: Any, active: bool) -> Iterator[None]:
    """Run the probe's forward passes on the model's own ``threads`` setting when it has one, else on
    :data:`PROBE_THREADS` torch thread, restoring the process's setting afterwards. A probe pass is a few dozen
    tokens: one thread does it without waiting for a second one, which on a busy 2-core machine made the guard
    4-10 times slower (``benchmarks/bench_moderation.py --latency``)."""
    if not active:
        yield
        return
    import torch

    before = torch.get_num_threads()
    wanted = getattr(llm, "threads", None) or PROBE_THREADS
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def hidden_features(
    llm: Any,
    prompts: Sequence[str],
    *,
    layer: int | None = None,
    pool: str = "last",
    spans: Sequence[tuple[int, int] | None] | None = None,
    specs: Sequence[tuple[str, int]] | None = None,
) -> np.ndarray:
    """``(len(prompts), features)`` float32 rows: for each ``(pool, layer)`` of ``specs`` (default
    ``[(pool, layer)]``), the hidden state after that decoder layer at the last token (``"last"``) or averaged over
    the tokens inside ``spans[i]`` (character offsets of the input text in the prompt; ``"mean"``), side by side.
    One forward pass per prompt serves every spec. Each vector is cached in the model's replay cache when it has
    one."""
    specs = [(str(p), int(n)) for p, n in specs] if specs else [(pool, int(layer or 0))]
    for p, _ in specs:
        if p not in POOLS:
            raise ValidationError(f"unknown probe pooling {p!r}; expected one of {', '.join(POOLS)}")
    from promptkit.cache import request_key

    spans = list(spans) if spans is not None else [None] * len(prompts)
    requests = [
        [_request(llm, prompt, n, p, span) for p, n in specs]
        for prompt, span in zip(prompts, spans, strict=True)
    ]
    keys = [[request_key(r) for r in row] for row in requests]
    store = llm.replay_store() if hasattr(llm, "replay_store") else None
    found = store.get_many([k for row in keys for k in row]) if store is not None else {}
    out: list[np.ndarray | None] = []
    for row in keys:
        out.append(
            np.concatenate([_decode(found[k]["vector"]) for k in row])
            if all(k in found for k in row)
            else None
        )
    todo = [i for i, v in enumerate(out) if v is None]
    if store is not None:
        store.count(len(keys) - len(todo), len(todo))
        store.require([keys[i][0] for i in todo], describe=f"model {llm.model_id} hidden states")
    with _probe_threads(llm, bool(todo)):
        for i in todo:
            states = layer_states(llm, prompts[i], sorted({n for _, n in specs}), spans[i])
            vectors = [states[n][0] if p == "last" else states[n][1] for p, n in specs]
            out[i] = np.concatenate(vectors)
            if store is not None:
                store.put_many(
                    [
                        (k, llm.model_id, r, {"vector": _encode(v)})
                        for k, r, v in zip(keys[i], requests[i], vectors, strict=True)
                    ]
                )
    return np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)  # type: ignore[arg-type]


def probe_specs(probe: LinearProbe) -> list[tuple[str, int]]:
    """The ``(pool, layer)`` pairs a probe reads, from its metadata (``features``, else ``pool`` and ``layer``)."""
    if probe.meta.get("features"):
        return [(str(p), int(n)) for p, n in probe.meta["features"]]
    return [(str(probe.meta.get("pool", "last")), int(probe.meta["layer"]))]


@dataclass
class LinearProbe:
    """Logistic-regression heads over standardised features: ``p = sigmoid(((x - mean) / scale) @ coef + b)``.

    ``heads`` names the rows of ``coef``; ``thresholds`` maps a head to the probability at or above which it
    fires; ``meta`` records what the features are (model, layer, pooling, prompt) and how the probe was fitted.
    """

    heads: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (heads, features)
    intercept: np.ndarray  # (heads,)
    thresholds: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """``(rows, heads)`` probabilities."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if x.shape[1] != self.mean.shape[0]:
            raise ValidationError(
                f"probe expects {self.mean.shape[0]} features, got {x.shape[1]}",
                hint="the probe was fitted on another model or layer; refit it for this model",
            )
        z = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def content(self) -> dict[str, Any]:
        """The JSON content (everything but the hash)."""
        return {
            "format": FORMAT,
            "heads": list(self.heads),
            "thresholds": {k: float(v) for k, v in self.thresholds.items()},
            "meta": self.meta,
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [[float(v) for v in row] for row in self.coef],
            "intercept": [float(v) for v in self.intercept],
        }

    @property
    def sha256(self) -> str:
        return sha256_bytes(canonical_json(self.content()).encode("utf-8"))

    def save(self, path: str | Path) -> Path:
        """Write the probe as JSON, with the sha256 of its canonical content."""
        target = Path(path)
        atomic_write_text(target, canonical_json({**self.content(), "sha256": self.sha256}) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> LinearProbe:
        """Read a probe saved by :meth:`save`; a file whose content does not match its hash is refused."""
        data = read_json(path, what="probe file")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValidationError(f"{path} is not a promptkit linear probe ({FORMAT})")
        recorded = data.pop("sha256", None)
        try:
            probe = cls(
                heads=[str(h) for h in data["heads"]],
                mean=np.asarray(data["mean"], dtype=np.float64),
                scale=np.asarray(data["scale"], dtype=np.float64),
                coef=np.asarray(data["coef"], dtype=np.float64),
                intercept=np.asarray(data["intercept"], dtype=np.float64),
                thresholds={str(k): float(v) for k, v in data.get("thresholds", {}).items()},
                meta=dict(data.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"probe file {path} is malformed ({exc})") from None
        actual = probe.sha256
        if recorded != actual:
            raise IntegrityError(
                f"probe file {path} does not match its recorded sha256 (recorded {recorded}, actual {actual})",
                hint="it was edited or damaged; restore it from the repository or refit it",
            )
        if probe.coef.shape != (len(probe.heads), probe.mean.shape[0]) or probe.intercept.shape != (
            len(probe.heads),
        ):
            raise ValidationError(f"probe file {path} has arrays of inconsistent shapes")
        return probe


def fit_probe(
    features: np.ndarray,
    targets: dict[str, Sequence[int]],
    *,
    c: float = 1.0,
    thresholds: dict[str, float] | None = None,
    meta: dict[str, Any] | None = None,
) -> LinearProbe:
    """One class-balanced L2 logistic regression per head (``targets[head]``: 0/1 per row), on standardised
    features. A head whose targets are all one class gets a constant probability instead."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(features, dtype=np.float64)
    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    heads, coefs, intercepts = [], [], []
    for head, y in targets.items():
        y = np.asarray(y, dtype=int)
        heads.append(head)
        if y.min() == y.max():
            coefs.append(np.zeros(x.shape[1]))
            p = 0.999 if y[0] else 0.001
            intercepts.append(math.log(p / (1 - p)))
            continue
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        model.fit(z, y)
        coefs.append(model.coef_[0])
        intercepts.append(float(model.intercept_[0]))
    return LinearProbe(
        heads=heads,
        mean=mean,
        scale=scale,
        coef=np.stack(coefs),
        intercept=np.asarray(intercepts),
        thresholds=dict(thresholds or {}),
        meta=dict(meta or {}),
    )


PROBES_FOLDER = "_probes"


def probe_file_name(prompt_ref: str, model_id: str) -> str:
    """``<prompt>@<version>--<model>.json``, the model id made file-safe (``/`` and spaces become ``_``).

    >>> probe_file_name("moderation@4", "qwen2.5-coder-0.5b-instruct")
    'moderation@4--qwen2.5-coder-0.5b-instruct.json'
    """
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in model_id)
    return f"{prompt_ref}--{safe}.json"


def probe_dirs() -> list[Path]:
    """Where probes are looked for: the project's ``prompts/_probes``, then the shipped one."""
    from promptkit import paths

    out: list[Path] = []
    for root in (paths.prompts_dir(), paths.shipped_root() / "prompts"):
        folder = (root / PROBES_FOLDER).resolve()
        if folder not in out:
            out.append(folder)
    return out


def find_probe(prompt: Any, model_id: str) -> LinearProbe | None:
    """The probe fitted for this prompt version (its ``ref`` and ``hash`` metadata) and model, or ``None``.

    A probe whose recorded prompt hash differs from the prompt's is refused: its features would come from
    another text."""
    ref = str(prompt.metadata.get("ref", ""))
    if not ref or not model_id:
        return None
    name = probe_file_name(ref, model_id)
    for folder in probe_dirs():
        path = folder / name
        if path.is_file():
            probe = LinearProbe.load(path)
            expected = prompt.metadata.get("hash")
            if probe.meta.get("prompt_hash") != expected:
                raise IntegrityError(
                    f"probe {path} was fitted on another text of prompt {ref} "
                    f"(prompt hash {probe.meta.get('prompt_hash')}, now {expected})",
                    hint="refit it for this prompt version",
                )
            return probe
    return None


def prompt_span(rendered: str, text: str) -> tuple[int, int] | None:
    """Character offsets of the last occurrence of ``text`` in a rendered prompt (for ``pool="mean"``)."""
    at = rendered.rfind(text) if text else -1
    return (at, at + len(text)) if at >= 0 else None


def oof_probabilities(
    features: np.ndarray,
    targets: dict[str, Sequence[int]],
    *,
    c: float = 1.0,
    strata: Sequence[str] | None = None,
    folds: int = 5,
    fit_only: Sequence[bool] | None = None,
) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities of every head for every row (stratified ``folds``-fold cross-validation,
    seeded): what thresholds are chosen on, since in-sample probabilities are over-confident. Rows marked
    ``fit_only`` (extra training data) are always in the training folds and get no probability (NaN)."""
    from sklearn.model_selection import StratifiedKFold

    n = len(features)
    extra = np.asarray(fit_only if fit_only is not None else [False] * n, dtype=bool)
    scored = np.flatnonzero(~extra)
    labels = np.asarray(strata if strata is not None else ["all"] * n)[scored]
    out = {head: np.full(n, np.nan) for head in targets}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(scored, labels):
        rows = np.concatenate([scored[train], np.flatnonzero(extra)])
        probe = fit_probe(features[rows], {h: np.asarray(y)[rows] for h, y in targets.items()}, c=c)
        probs = probe.probabilities(features[scored[test]])
        for k, head in enumerate(probe.heads):
            out[head][scored[test]] = probs[:, k]
    return out


def fit_label_probe(
    features: np.ndarray,
    gold: Sequence[str],
    labels: Sequence[str],
    *,
    extra: Sequence[bool],
    c: float,
    meta: dict[str, Any],
) -> tuple[LinearProbe, dict[str, Any]]:
    """A one-vs-rest probe over ``labels`` (the decision is the most probable head) and its out-of-fold accuracy
    and macro-F1 on the rows not marked ``extra`` (extra rows are training data only)."""
    targets = {label: [int(g == label) for g in gold] for label in labels}
    oof = oof_probabilities(features, targets, c=c, strata=list(gold), fit_only=extra)
    idx = np.flatnonzero(~np.asarray(extra, dtype=bool))
    predicted = [max(labels, key=lambda label: oof[label][i]) for i in idx]
    truth = [gold[i] for i in idx]
    f1s = []
    for label in labels:
        tp = sum(p == t == label for p, t in zip(predicted, truth, strict=True))
        n_pred = sum(p == label for p in predicted)
        n_gold = sum(t == label for t in truth)
        f1s.append(2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0)
    cv = {
        "accuracy": float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])),
        "macro_f1": float(np.mean(f1s)),
        "recall": {
            label: float(np.mean([p == label for p, t in zip(predicted, truth, strict=True) if t == label]))
            for label in labels
        },
    }
    probe = fit_probe(features, targets, c=c, meta={**meta, "cv": cv, "c": c})
    return probe, cv

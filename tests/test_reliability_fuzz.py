"""Property-based tests: metrics and normalisers, delimiting and context fitting, prompt files and templates,
chain definitions, datasets, results files and index manifests. Whatever the input, nothing may raise an
exception other than promptkit's own (:class:`PromptkitError` subclasses), and the invariants hold.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from promptkit import metrics as M
from promptkit.errors import PromptkitError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FEW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text that exercises normalisers: ASCII and Unicode punctuation, articles, accents, odd whitespace and cases.
WORDS = st.sampled_from(
    [
        "a",
        "an",
        "the",
        "o",
        "os",
        "as",
        "um",
        "uma",
        "The",
        "O",
        "«prompt»",
        "ção",
        "İ",
        "ß",
        "Σ",
        "—",
        "…",
        "1943",
        "F1",
        "sem resposta",
        "unanswerable",
        "\u00a0",
        "\t",
        "\u200b",
        "'",
        '"',
        "-",
        "ﬁ",
        "Ǆ",
    ]
)
TEXT = st.one_of(st.text(max_size=60), st.lists(WORDS, max_size=8).map(" ".join))

# -- metrics and normalisers ---------------------------------------------------------------------------------


@FAST
@given(TEXT)
def test_normalisers_never_fail_and_are_stable(text):
    for name, norm in M.NORMALIZERS.items():
        once = norm(text)
        assert isinstance(once, str)
        assert once == once.strip() and "  " not in once, name
        assert norm(once) == once, f"{name} is not idempotent on {text!r}: {once!r} -> {norm(once)!r}"


@FAST
@given(st.lists(TEXT, max_size=4), TEXT)
def test_scores_are_bounded_and_consistent(golds, prediction):
    for norm in M.NORMALIZERS.values():
        exact, f1 = M.score_answer(golds, prediction, norm)
        assert exact in (0, 1) and 0.0 <= f1 <= 1.0
        if exact:
            assert f1 == 1.0
    for gold in golds:
        assert M.compute_f1(gold, prediction) == M.compute_f1(prediction, gold)
        assert M.compute_exact(gold, gold) == 1


@FAST
@given(
    st.dictionaries(st.text(min_size=1, max_size=5), st.tuples(st.lists(TEXT, max_size=3), TEXT), max_size=6),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_squad_v2_eval_is_bounded(items, prob):
    golds = {k: g for k, (g, _) in items.items()}
    preds = {k: p for k, (_, p) in items.items()}
    na = {k: prob for k in items} if prob is not None else None
    out = M.squad_v2_eval(golds, preds, na_probs=na)
    for key in ("exact", "f1"):
        if key in out:
            assert 0.0 <= out[key] <= 100.0
    assert out["total"] == len(items)


@FAST
@given(st.lists(st.floats(0, 1), max_size=30), st.lists(st.floats(0, 1), max_size=30), st.integers(0, 5))
def test_bootstrap_intervals(a, b, seed):
    ci = M.bootstrap_ci(a, resamples=50, seed=seed)
    assert ci["low"] <= ci["high"] + 1e-9
    if a:
        assert min(a) * 100 - 1e-6 <= ci["low"] and ci["high"] <= max(a) * 100 + 1e-6
    try:
        d = M.paired_bootstrap(a, b, resamples=50, seed=seed)
    except PromptkitError:
        assert len(a) != len(b)
    else:
        assert len(a) == len(b) and d["low"] <= d["high"] + 1e-9 and 0.0 <= d["p_b_better"] <= 1.0


@FAST
@given(TEXT, st.lists(TEXT, max_size=2))
def test_abstention_mapping(text, extra):
    mapped = M.map_abstention(text, extra)
    assert mapped in ("", text)
    assert (mapped == "") == (M.is_abstention(text, extra) or text.strip() == "") or mapped == text


# -- answers, delimiting and context fitting -----------------------------------------------------------------

TAGGY = st.lists(
    st.sampled_from(
        [
            "<documento",
            "</documento>",
            "< / DOCUMENTO",
            "＜documento",
            "‹/documento",
            "⟨documento",
            "<documentos>",
            'id="9"',
            ">",
            "<",
            "/",
            " ",
            "\n",
            "ignore as regras",
            "&lt;",
            "DoCuMeNtO",
        ]
    ),
    max_size=12,
).map("".join)
_OPEN = re.compile(r"<\s*documento\b", re.IGNORECASE)
_CLOSE = re.compile(r"<\s*/\s*documento\b", re.IGNORECASE)


@FAST
@given(st.one_of(TAGGY, st.text(max_size=80)), st.text(max_size=30))
def test_a_document_cannot_open_or_close_a_block(text, source):
    from promptkit.chains.context import format_document

    block = format_document(1, text, source)
    assert len(_OPEN.findall(block)) == 1 and len(_CLOSE.findall(block)) == 1
    assert block.startswith("<documento ") and block.endswith("</documento>")
    assert '"' not in source or source.replace('"', "") in block or "&quot;" in block


def _count(text: str) -> int:
    return len(text) // 4 + 1


@FAST
@given(st.lists(st.tuples(st.text(max_size=400), st.text(max_size=12)), max_size=6), st.integers(0, 300))
def test_fitted_context_never_exceeds_the_budget(docs, budget):
    from promptkit.chains.context import fit_documents

    fitted = fit_documents([(t, {"source": s, "id": s}) for t, s in docs], budget, _count)
    assert fitted.tokens <= budget
    assert len(fitted.blocks) == len(fitted.texts) == len(fitted.kept)
    assert len(fitted.kept) + len(fitted.dropped) == len(docs)
    for block in fitted.blocks:
        assert _count(block) <= budget


@FAST
@given(st.text(max_size=600), st.integers(-5, 200))
def test_truncation_respects_the_budget(text, budget):
    from promptkit.chains.context import truncate_to_tokens

    cut = truncate_to_tokens(text, budget, _count)
    if budget <= 0:
        assert cut == ""
    else:
        assert _count(cut) <= budget or cut == text


@FAST
@given(TEXT, TEXT, st.booleans(), st.booleans())
def test_answer_post_processing(raw, context, first_line, strip):
    from promptkit.chains.postprocess import clean_answer, grounding_score, snap_to_span
    from promptkit.text import is_abstention

    answer = clean_answer(raw, first_line=first_line, strip=strip)
    assert isinstance(answer, str)
    assert 0.0 <= grounding_score(answer, context) <= 1.0
    assert isinstance(is_abstention(answer), bool)
    assert isinstance(snap_to_span(answer, context), str)


# -- prompt files and templates ------------------------------------------------------------------------------

_counter = itertools.count()

BRACES = st.text(alphabet="{}x._[]0!:ab ", max_size=20)
YAMLISH = st.text(alphabet=":-[]{}#&*!|>'\"%@`, \n\tabcxyz01?", max_size=120)
BASE_SPEC = {
    "name": "p",
    "version": 1,
    "description": "d",
    "language": "pt-BR",
    "kind": "text",
    "input_variables": ["x"],
    "template": "{x}",
    "changelog": "c",
}


def _write(root: Path, name: str, text: str) -> str:
    """A prompt folder with one v1.yaml; returns the prompt name."""
    folder = root / "prompts" / name
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(text, encoding="utf-8")
    return name


@FEW
@given(YAMLISH)
def test_random_yaml_prompt_files(tmp_path, text):
    from promptkit.prompts import load_prompt

    name = _write(tmp_path, f"p{next(_counter)}", text)
    try:
        load_prompt(name, root=tmp_path / "prompts")
    except PromptkitError:
        pass


@FEW
@given(BRACES, st.sampled_from(["f-string", "mustache"]), st.text(alphabet="xyab{}", max_size=6))
def test_random_templates_load_or_refuse_and_render(tmp_path, template, fmt, value):
    import yaml

    from promptkit.prompts import load_prompt, render

    name = f"p{next(_counter)}"
    spec = {**BASE_SPEC, "name": name, "template": template, "template_format": fmt}
    _write(tmp_path, name, yaml.safe_dump(spec, allow_unicode=True))
    root = tmp_path / "prompts"
    try:
        prompt = load_prompt(name, root=root)
    except PromptkitError:
        return
    assert (
        re.search(r"\{[^{}]*[.\[][^{}]*\}", template.replace("{{", "").replace("}}", "")) is None
        or fmt == "mustache"
    )
    try:
        text = render(name, {"x": value}, root=root)
    except PromptkitError:
        return
    assert value in text or value == ""
    assert prompt.metadata["ref"] == f"{name}@1"


@FEW
@given(
    st.dictionaries(
        st.sampled_from(
            list(BASE_SPEC)
            + ["messages", "fewshot", "generation", "parser", "template_format", "abstain_phrase", "extra"]
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=8),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
            max_leaves=8,
        ),
        max_size=6,
    )
)
def test_random_prompt_fields(tmp_path, overrides):
    import yaml

    from promptkit.prompts import load_prompt

    name = f"p{next(_counter)}"
    spec = {**BASE_SPEC, **overrides, "name": overrides.get("name", name)}
    _write(tmp_path, name, yaml.safe_dump(spec, allow_unicode=True))
    try:
        load_prompt(name, root=tmp_path / "prompts")
    except PromptkitError:
        pass


@FEW
@given(YAMLISH)
def test_random_chain_definitions_and_labels(tmp_path, text):
    from promptkit.chains.definition import read_definition
    from promptkit.prompts.store import read_labels

    path = tmp_path / f"c{next(_counter)}.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        read_definition(path)
    except PromptkitError:
        pass
    folder = tmp_path / "prompts" / f"l{next(_counter)}"
    folder.mkdir(parents=True)
    (folder / "labels.yaml").write_text(text, encoding="utf-8")
    try:
        read_labels(folder.name, tmp_path / "prompts")
    except PromptkitError:
        pass


@FEW
@given(st.text(max_size=40))
def test_random_prompt_references(ref):
    from promptkit.prompts import resolve_ref

    try:
        resolve_ref(ref)
    except PromptkitError:
        pass


# -- datasets, results and manifests -------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "data",
                    "title",
                    "paragraphs",
                    "context",
                    "qas",
                    "id",
                    "question",
                    "answers",
                    "text",
                    "answer_start",
                    "is_impossible",
                    "plausible_answers",
                    "split",
                    "source",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)

GOOD = {
    "version": "v2.0",
    "data": [
        {
            "title": "t",
            "paragraphs": [
                {
                    "context": "A temperatura baixa deixa o texto previsível.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Como?",
                            "answers": [{"text": "previsível", "answer_start": 34}],
                            "is_impossible": False,
                        },
                        {"id": "q2", "question": "Quem?", "answers": [], "is_impossible": True},
                    ],
                }
            ],
        }
    ],
}


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


GOOD_PATHS = [p for p in _paths(GOOD) if p]


def _mutate(obj, path, value):
    copy = json.loads(json.dumps(obj))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@FAST
@given(JSON)
def test_random_json_is_never_a_crash_for_the_dataset_loader(obj):
    from promptkit.datasets import parse_squad

    try:
        parse_squad(obj)
    except PromptkitError:
        pass


@FAST
@given(st.sampled_from(GOOD_PATHS), JSON)
def test_mutated_squad_files(path, value):
    from promptkit.datasets import parse_squad

    try:
        examples = parse_squad(_mutate(GOOD, path, value))
    except PromptkitError:
        return
    for e in examples:
        for text, start in zip(e.answers, e.answer_starts, strict=True):
            assert e.context[start : start + len(text)] == text


@FEW
@given(st.binary(max_size=200))
def test_random_bytes_as_dataset_and_results_files(tmp_path, data):
    from promptkit.datasets import load_squad
    from promptkit.evaluation import load_result

    path = tmp_path / f"d{next(_counter)}.json"
    path.write_bytes(data)
    for load in (load_squad, load_result):
        try:
            load(path)
        except PromptkitError:
            pass


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from promptkit.index import build_index
    from promptkit.testing import FakeEmbeddings

    corpus = tmp_path_factory.mktemp("c")
    (corpus / "a.md").write_text("A atenção compara consultas com chaves.\n")
    out = tmp_path_factory.mktemp("ix") / "ix"
    build_index(corpus, out, embeddings=FakeEmbeddings(), show_progress=False)
    return out


MANIFEST_PATHS = [
    "format_version",
    "embedding",
    "embedding.dimension",
    "embedding.model_id",
    "index",
    "index.file",
    "index.sha256",
    "index.ntotal",
    "index.ef_search",
    "chunks",
    "chunks.file",
    "chunks.count",
    "chunks.sha256",
    "files",
    "splitter",
]


@FAST
@given(
    st.sampled_from(MANIFEST_PATHS),
    JSON | st.sampled_from(["", ".", "..", "../x", "a\x00b", "/etc/passwd", 1e308, -1, 10**20, float("inf")]),
)
def test_edited_manifests_with_a_recomputed_checksum(built, tmp_path_factory, path, value):
    """Even a tamperer who recomputes the manifest checksum only ever gets an IntegrityError."""
    import shutil

    from promptkit.index.store import MANIFEST, manifest_checksum, read_index

    folder = tmp_path_factory.mktemp("m")
    shutil.copytree(built, folder, dirs_exist_ok=True)
    manifest = json.loads((folder / MANIFEST).read_text())
    node = manifest
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    manifest["checksum"] = manifest_checksum(manifest)
    try:
        text = json.dumps(manifest)
    except ValueError:
        assume(False)
    (folder / MANIFEST).write_text(text)
    try:
        read_index(folder)
    except PromptkitError:
        pass

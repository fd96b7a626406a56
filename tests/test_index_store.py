"""Persistence: manifest and hashes, tamper refusal, atomic commits, incremental rebuilds, ensure_index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus_support import write_corpus

from promptkit.errors import IntegrityError, NotFoundError, ValidationError
from promptkit.index import build_index, ensure_index, load_index
from promptkit.index.store import MANIFEST
from promptkit.testing import FakeEmbeddings

DOCS = {
    "01-atencao.md": "---\ntitle: Atenção\ntopic: atencao\n---\n\n## Consultas e chaves\n\n"
    "A atenção compara consultas com chaves e pondera os valores.\n",
    "02-temperatura.md": "---\ntitle: Temperatura\ntopic: saida\n---\n\n## Amostragem\n\n"
    "A temperatura alta deixa a distribuição mais plana e a saída mais variada.\n",
    "03-rag.txt": "A geração aumentada por recuperação busca trechos relevantes antes de responder.\n",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", DOCS)


def build(corpus: Path, out: Path, emb=None):
    return build_index(corpus, out, embeddings=emb or FakeEmbeddings(), show_progress=False)


def data_file(out: Path, kind: str) -> Path:
    manifest = json.loads((out / MANIFEST).read_text())
    return out / manifest[kind]["file"]


def test_manifest_records_everything(corpus: Path, tmp_path: Path):
    out = tmp_path / "ix"
    build(corpus, out)
    m = json.loads((out / MANIFEST).read_text())
    assert m["format_version"] == 1
    assert m["embedding"] == {"model_id": "fake-hashing-256", "dimension": 256, "normalized": True,
                              "metric": "inner_product"}
    assert m["splitter"]["chunk_tokens"] == 200 and m["splitter"]["overlap_tokens"] == 30
    assert {f["source"] for f in m["files"]} == {f"corpus/{n}" for n in DOCS}
    assert all(len(f["sha256"]) == 64 for f in m["files"])
    assert len(m["index"]["sha256"]) == 64 and len(m["chunks"]["sha256"]) == 64
    assert m["index"]["type"] == "flat"
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(names) == 3 and not any(n.endswith((".pkl", ".pickle")) for n in names)


def test_incremental_rebuild_counts(corpus: Path, tmp_path: Path):
    out = tmp_path / "ix"
    first = build(corpus, out)
    assert (first.files_added, first.chunks_embedded, first.chunks_reused) == (3, first.chunks_total, 0)
    same = build(corpus, out)
    assert (same.files_unchanged, same.chunks_embedded, same.chunks_reused) == (3, 0, first.chunks_total)

    (corpus / "02-temperatura.md").write_text(DOCS["02-temperatura.md"] + "\nTop-p corta a cauda da distribuição.\n")
    (corpus / "04-novo.md").write_text("---\ntitle: Novo\n---\n\nEmbeddings representam palavras como vetores.\n")
    (corpus / "03-rag.txt").unlink()
    again = build(corpus, out)
    assert (again.files_added, again.files_changed, again.files_unchanged, again.files_removed) == (1, 1, 1, 1)
    assert again.chunks_embedded == 2 and again.chunks_reused == 1
    index = load_index(out, embeddings=FakeEmbeddings())
    assert {c.source for c in index.chunks} == {"corpus/01-atencao.md", "corpus/02-temperatura.md", "corpus/04-novo.md"}
    assert index.search("top-p cauda", k=1, mode="bm25")[0].metadata["source"] == "corpus/02-temperatura.md"
    # reused vectors are the same vectors a fresh build computes
    fresh = build(corpus, tmp_path / "fresh")
    assert fresh.chunks_total == again.chunks_total
    a = load_index(out, embeddings=FakeEmbeddings()).vectors()
    b = load_index(tmp_path / "fresh", embeddings=FakeEmbeddings()).vectors()
    assert a.shape == b.shape and abs(a - b).max() < 1e-6


def test_other_embeddings_rebuild_everything(corpus: Path, tmp_path: Path):
    out = tmp_path / "ix"
    build(corpus, out)
    report = build(corpus, out, FakeEmbeddings(128))
    assert report.chunks_reused == 0 and any("embeddings changed" in n for n in report.notes)


def test_stable_chunk_ids(corpus: Path, tmp_path: Path):
    build(corpus, tmp_path / "a")
    build(corpus, tmp_path / "b")
    ids_a = [c.id for c in load_index(tmp_path / "a", embeddings=FakeEmbeddings()).chunks]
    ids_b = [c.id for c in load_index(tmp_path / "b", embeddings=FakeEmbeddings()).chunks]
    assert ids_a == ids_b and len(set(ids_a)) == len(ids_a)


@pytest.mark.parametrize("target", ["chunks", "index", "manifest", "truncate-index", "delete-chunks"])
def test_tampered_index_is_refused(corpus: Path, tmp_path: Path, target: str):
    out = tmp_path / "ix"
    build(corpus, out)
    if target == "chunks":
        path = data_file(out, "chunks")
        path.write_text(path.read_text().replace("consultas", "CONSULTAS"))
        named = path.name
    elif target == "index":
        path = data_file(out, "index")
        data = bytearray(path.read_bytes())
        data[-5] ^= 0xFF
        path.write_bytes(bytes(data))
        named = path.name
    elif target == "truncate-index":
        path = data_file(out, "index")
        path.write_bytes(path.read_bytes()[:100])
        named = path.name
    elif target == "delete-chunks":
        path = data_file(out, "chunks")
        path.unlink()
        named = path.name
    else:
        m = json.loads((out / MANIFEST).read_text())
        m["embedding"]["model_id"] = "outro-modelo"
        (out / MANIFEST).write_text(json.dumps(m))
        named = MANIFEST
    with pytest.raises(IntegrityError) as err:
        load_index(out, embeddings=FakeEmbeddings())
    assert named in str(err.value) and f"promptkit index build --out {out}" in str(err.value)


def test_wrong_embeddings_are_refused(corpus: Path, tmp_path: Path):
    out = tmp_path / "ix"
    build(corpus, out)
    with pytest.raises(IntegrityError, match="fake-hashing-256.*fake-hashing-64"):
        load_index(out, embeddings=FakeEmbeddings(64))


def test_missing_index(tmp_path: Path):
    with pytest.raises(NotFoundError, match="promptkit index build --out"):
        load_index(tmp_path / "none", embeddings=FakeEmbeddings())


def test_a_crash_before_the_commit_keeps_the_previous_index(corpus: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "ix"
    build(corpus, out)
    before = (out / MANIFEST).read_bytes()
    (corpus / "04-novo.txt").write_text("Um arquivo novo que nunca chega ao índice.")

    import promptkit.index.store as store

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed while committing")

    monkeypatch.setattr(store, "atomic_write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        build(corpus, out)
    monkeypatch.undo()
    assert (out / MANIFEST).read_bytes() == before
    index = load_index(out, embeddings=FakeEmbeddings())
    assert "corpus/04-novo.txt" not in {c.source for c in index.chunks}
    # the next build cleans the orphaned data files of the interrupted one
    build(corpus, out)
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 3


def test_sigkill_mid_build_leaves_a_loadable_index(corpus: Path, tmp_path: Path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "ix"
    build(corpus, out)
    for n in range(40):
        (corpus / f"extra-{n:02d}.txt").write_text(f"Texto extra número {n} sobre atenção e embeddings. " * 200)
    code = (
        "import sys; from promptkit.index import build_index; from promptkit.testing import FakeEmbeddings\n"
        f"build_index({str(corpus)!r}, {str(out)!r}, embeddings=FakeEmbeddings(), show_progress=False)\n"
    )
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=str(Path(__file__).parent.parent))
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        index = load_index(out, embeddings=FakeEmbeddings())  # old or new, never broken
        assert len(index) > 0


def test_ensure_index_builds_once_and_follows_the_corpus(corpus: Path, tmp_path: Path):
    out = tmp_path / "ix"
    emb = FakeEmbeddings()
    index = ensure_index(out, embeddings=emb, corpus_dir=corpus, show_progress=False)
    assert len(index) > 0
    manifest = (out / MANIFEST).read_bytes()
    ensure_index(out, embeddings=emb, corpus_dir=corpus, show_progress=False)
    assert (out / MANIFEST).read_bytes() == manifest  # fresh: not rebuilt
    (corpus / "05-mais.txt").write_text("Moderação de conteúdo filtra respostas tóxicas.")
    index = ensure_index(out, embeddings=emb, corpus_dir=corpus, show_progress=False)
    assert "corpus/05-mais.txt" in {c.source for c in index.chunks}
    data_file(out, "chunks").write_text("{}")
    with pytest.raises(IntegrityError):
        ensure_index(out, embeddings=emb, corpus_dir=corpus, show_progress=False)


def test_ensure_index_default_location_uses_the_project_corpus(fake_embeddings, repo: Path):
    from promptkit import paths

    index = ensure_index(embeddings=fake_embeddings, show_progress=False)
    assert index.path == paths.default_index_dir()
    assert {c.source.split("/")[0] for c in index.chunks} == {"corpus"}
    assert len({c.source for c in index.chunks}) == len(list((repo / "corpus").glob("*.md")))


def test_a_skipped_file_that_gains_text_makes_the_index_stale(corpus: Path, tmp_path: Path):
    from promptkit.index import index_is_stale

    (corpus / "09-vazio.md").write_text("")
    out = tmp_path / "ix"
    build(corpus, out)
    assert not index_is_stale(out, corpus)
    (corpus / "09-vazio.md").write_text("Agora há texto sobre tokenização.")
    assert index_is_stale(out, corpus)
    index = ensure_index(out, embeddings=FakeEmbeddings(), corpus_dir=corpus, show_progress=False)
    assert "corpus/09-vazio.md" in {c.source for c in index.chunks}


# -- an index is refreshed only from the corpus it was built from --------------------------------------------
def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".lock"}


def test_a_user_index_stays_built_from_its_own_corpus(corpus: Path, tmp_path: Path):
    out = tmp_path / "meu-indice"
    build(corpus, out)
    before = snapshot(out)
    index = ensure_index(out, embeddings=FakeEmbeddings(), show_progress=False)  # corpus: the manifest's
    assert snapshot(out) == before  # fresh: nothing rebuilt, and never from the course corpus
    assert {c.source for c in index.chunks} == {f"corpus/{n}" for n in DOCS}
    assert json.loads((out / MANIFEST).read_text())["corpus_dir"] == str(corpus.resolve())


def test_refresh_reads_the_edited_file_of_its_corpus_with_the_same_settings(corpus: Path, tmp_path: Path):
    out = tmp_path / "meu-indice"
    build_index(corpus, out, embeddings=FakeEmbeddings(), show_progress=False, chunk_tokens=40,
                overlap_tokens=5)
    (corpus / "03-rag.txt").write_text("A recuperação traz trechos; o reranqueamento ordena os candidatos.\n")
    index = ensure_index(out, embeddings=FakeEmbeddings(), show_progress=False)
    hit = index.search("reranqueamento candidatos", k=1, mode="bm25")[0]
    assert hit.metadata["source"] == "corpus/03-rag.txt" and "reranqueamento" in hit.page_content
    assert {c.source for c in index.chunks} == {f"corpus/{n}" for n in DOCS}
    splitter = json.loads((out / MANIFEST).read_text())["splitter"]
    assert (splitter["chunk_tokens"], splitter["overlap_tokens"]) == (40, 5)


def test_a_deleted_corpus_is_an_error_and_the_index_is_untouched(corpus: Path, tmp_path: Path):
    import shutil

    out = tmp_path / "meu-indice"
    build(corpus, out)
    before = snapshot(out)
    shutil.rmtree(corpus)
    with pytest.raises(NotFoundError) as err:
        ensure_index(out, embeddings=FakeEmbeddings(), show_progress=False)
    message = str(err.value)
    assert f"built from the corpus folder {corpus.resolve()}, which no longer exists" in message
    assert f"promptkit index build --corpus DIR --out {out}" in message
    assert snapshot(out) == before
    # other embeddings would mean a rebuild: still refused, still untouched
    with pytest.raises(NotFoundError, match="no longer exists"):
        ensure_index(out, embeddings=FakeEmbeddings(64), show_progress=False)
    assert snapshot(out) == before
    assert len(load_index(out, embeddings=FakeEmbeddings())) > 0


def test_another_corpus_folder_is_refused(corpus: Path, tmp_path: Path, repo: Path):
    out = tmp_path / "meu-indice"
    build(corpus, out)
    before = snapshot(out)
    with pytest.raises(ValidationError, match=f"built from the corpus folder {corpus.resolve()}, not"):
        ensure_index(out, embeddings=FakeEmbeddings(), corpus_dir=repo / "corpus", show_progress=False)
    assert snapshot(out) == before

"""Ingestion: Markdown front matter, plain text, PDF, and the files that must be skipped with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.errors import NotFoundError, ValidationError
from promptkit.index import build_index, load_index
from promptkit.index.loaders import decode_text, load_corpus


def make_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A minimal one-page PDF with Helvetica text (WinAnsi), xref offsets computed by hand."""

    def esc(s: str) -> bytes:
        return s.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    ops = b"BT /F1 12 Tf 72 720 Td 14 TL " + b" ".join(b"(" + esc(line) + b") '" for line in lines) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(ops)).encode() + b" >>\nstream\n" + ops + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    if title:
        objects.append(b"<< /Title (" + esc(title) + b") >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


MD = """---
title: Redes neurais recorrentes
topic: rnn
---

## Memória de curto prazo

As redes recorrentes processam sequências passo a passo e guardam um estado oculto.

## Gradientes

O gradiente que desaparece dificulta aprender dependências longas; a LSTM resolve isso com portões.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "01-rnn.md").write_text(MD, encoding="utf-8")
    (root / "02-notas.txt").write_text("Tokenização divide o texto em unidades menores chamadas tokens.\n")
    (root / "03-slides.pdf").write_bytes(
        make_pdf(["Retrieval augmented generation combines search", "with a language model."], title="Slides RAG")
    )
    return root


def test_each_format_is_ingested(corpus: Path, fake_embeddings, tmp_path: Path):
    report = build_index(corpus, tmp_path / "ix", embeddings=fake_embeddings, show_progress=False)
    assert report.files_indexed == 3 and report.warnings == []
    index = load_index(tmp_path / "ix", embeddings=fake_embeddings)
    by_source = {c.source: c for c in index.chunks}
    assert set(by_source) == {"docs/01-rnn.md", "docs/02-notas.txt", "docs/03-slides.pdf"}
    md = [c for c in index.chunks if c.source == "docs/01-rnn.md"]
    assert md[0].title == "Redes neurais recorrentes" and md[0].topic == "rnn"
    assert {c.heading for c in md} == {"Memória de curto prazo", "Gradientes"}
    assert "title:" not in " ".join(c.text for c in md)  # front matter is not indexed as text
    assert by_source["docs/02-notas.txt"].title == "Notas"
    pdf = by_source["docs/03-slides.pdf"]
    assert pdf.title == "Slides RAG" and pdf.page == 1 and "language model" in pdf.text


def test_problem_files_are_named_and_the_rest_indexed(corpus: Path, fake_embeddings, tmp_path: Path):
    (corpus / "04-vazio.md").write_text("---\ntitle: Vazio\n---\n\n   \n", encoding="utf-8")
    (corpus / "05-zero.txt").write_bytes(b"")
    (corpus / "06-binario.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (corpus / "07-quebrado.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf at all")
    (corpus / "08-imagem.png").write_bytes(b"\x89PNG")
    (corpus / "09-yaml.md").write_text("---\ntitle: [sem fechar\n---\n\nTexto valido sobre embeddings.\n")
    (corpus / ".oculto.md").write_text("ignorado")
    report = build_index(corpus, tmp_path / "ix", embeddings=fake_embeddings, show_progress=False)
    text = "\n".join(report.warnings)
    for name in ("04-vazio.md", "05-zero.txt", "06-binario.txt", "07-quebrado.pdf", "08-imagem.png", "09-yaml.md"):
        assert f"docs/{name}" in text, name
    assert ".oculto" not in text
    assert "empty" in text and "binary" in text and "not a readable PDF" in text and "not valid YAML" in text
    assert report.files_indexed == 4  # the three good files plus the Markdown with broken front matter
    sources = {c.source for c in load_index(tmp_path / "ix", embeddings=fake_embeddings).chunks}
    assert "docs/09-yaml.md" in sources and "docs/06-binario.txt" not in sources


def test_unreadable_file_is_skipped(corpus: Path, fake_embeddings, tmp_path: Path, monkeypatch):
    locked = corpus / "10-trancado.md"
    locked.write_text("segredo")
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == locked.name:
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = build_index(corpus, tmp_path / "ix", embeddings=fake_embeddings, show_progress=False)
    assert any("docs/10-trancado.md" in w and "cannot read" in w and "Permission" in w for w in report.warnings)
    assert report.files_indexed == 3


def test_non_utf8_text_is_decoded_as_cp1252_with_a_warning(tmp_path: Path, fake_embeddings):
    root = tmp_path / "legado"
    root.mkdir()
    (root / "antigo.txt").write_bytes("A atenção é calculada com “pesos” por posição.".encode("cp1252"))
    report = build_index(root, tmp_path / "ix", embeddings=fake_embeddings, show_progress=False)
    assert any("legado/antigo.txt" in w and "cp1252" in w for w in report.warnings)
    chunk = load_index(tmp_path / "ix", embeddings=fake_embeddings).chunks[0]
    assert "atenção" in chunk.text and "“pesos”" in chunk.text


def test_decode_text_fallbacks():
    assert decode_text("ação".encode()) == ("ação", "utf-8")
    assert decode_text(b"\xef\xbb\xbfbom") == ("bom", "utf-8")
    assert decode_text("ação".encode("cp1252")) == ("ação", "cp1252")
    assert decode_text(b"\x81\x8d")[1] == "latin-1"  # undefined in cp1252


def test_empty_corpus_is_an_error(tmp_path: Path, fake_embeddings):
    root = tmp_path / "nada"
    root.mkdir()
    (root / "a.md").write_text("")
    with pytest.raises(ValidationError, match="no indexable document.*nada/a.md"):
        build_index(root, tmp_path / "ix", embeddings=fake_embeddings, show_progress=False)
    with pytest.raises(ValidationError):
        load_corpus(root)
    assert not (tmp_path / "ix" / "manifest.json").exists()


def test_missing_corpus_folder(tmp_path: Path, fake_embeddings):
    with pytest.raises(NotFoundError, match="does not exist"):
        build_index(tmp_path / "nope", tmp_path / "ix", embeddings=fake_embeddings)

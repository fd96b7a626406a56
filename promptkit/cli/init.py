"""`promptkit init DIR`: create a small working project (prompt, chain, dataset, regression suite, tests)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``init`` to the top-level parser."""
    p = sub.add_parser(
        "init",
        help="cria um projeto pronto para usar (prompt, chain, perguntas, suíte de regressão, testes)",
        description="Cria em DIR um projeto com um prompt versionado (duas versões e o rótulo production), "
        "uma "
        "chain, dez perguntas no formato SQuAD, uma suíte de regressão, um teste de pytest e um README.",
    )
    p.add_argument("folder", metavar="DIR", help="pasta do projeto (criada se não existir)")
    p.add_argument(
        "--force",
        action="store_true",
        help="aceita uma pasta que já tem arquivos: só acrescenta os que faltam; os diferentes são mantidos",
    )
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    from promptkit.scaffold import init_project

    report = init_project(args.folder, force=args.force)
    for rel in report.written:
        print(f"criado     {rel}")
    for rel in report.unchanged:
        print(f"igual      {rel}")
    for rel in report.skipped:
        print(f"mantido    {rel} (já existe e é diferente do modelo; não foi sobrescrito)")
    if report.skipped:
        print(
            f"{len(report.skipped)} arquivo(s) mantido(s) como estavam; compare-os com `promptkit init` em "
            "uma pasta vazia se quiser a versão do modelo"
        )
    print(f"\nprojeto pronto em {report.folder}. Próximos passos:")
    print(f"  cd {report.folder}")
    print("  pytest                      # grava a linha de base na primeira vez, depois a verifica")
    print("  promptkit prompts list      # o prompt do projeto e os que vêm com o pacote")
    print("  cat README.md               # o ciclo: editar → prompts check → eval run → eval check → label")
    return 0

"""Build configuration that pyproject.toml cannot express: the repository's top-level ``prompts/``,
``chains/``, ``corpus/`` and ``eval/`` folders travel inside the wheel as package data, mapped to
``promptkit/_shipped/<folder>``.

The folders stay where they are in the repository (nothing is copied into the package tree); at run time
:func:`promptkit.paths.shipped_root` finds them with :mod:`importlib.resources`. Everything else (metadata,
dependencies, entry points) lives in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED_PACKAGE = "promptkit._shipped"
# folder -> the files of it that are shipped (globs relative to the folder)
SHIPPED = {
    "prompts": ["*/*.yaml", "*/*.md", "_pools/*.jsonl", "_probes/*.json", "prompts.lock"],
    "chains": ["*.yaml"],
    "corpus": ["**/*.md", "**/*.txt", "**/*.pdf"],
    "eval": [
        "datasets/*.json",
        "datasets/*.jsonl",
        "datasets/*.md",
        "suites/*.yaml",
        "baselines/*/*.json",
        "baselines/*/replay.sqlite",
    ],
}
# the project `promptkit init` writes: a package folder whose name is not a module name (data, not code)
TEMPLATE = [f"project-template/**/*.{ext}" for ext in ("md", "yaml", "json", "py", "ini", "lock")] + [
    "project-template/gitignore"
]


def shipped_data() -> dict[str, list[str]]:
    """``{package: [file names]}``: each shipped folder becomes a data-only package of promptkit._shipped."""
    data: dict[str, list[str]] = {}
    for folder, globs in SHIPPED.items():
        for pattern in globs:
            for path in sorted((HERE / folder).glob(pattern)):
                if path.is_file():
                    package = ".".join([SHIPPED_PACKAGE, *path.parent.relative_to(HERE).parts])
                    data.setdefault(package, []).append(path.name)
    return data


class BuildPy(build_py):
    """Shipped folders are data: the scripts that maintain them (``eval/experiments.py``, …) stay out."""

    def find_package_modules(self, package: str, package_dir: str) -> list:
        if package == SHIPPED_PACKAGE or package.startswith(SHIPPED_PACKAGE + "."):
            return []
        return super().find_package_modules(package, package_dir)


if __name__ == "__main__":  # the build backend runs this file as __main__; tests only read the settings above
    data = shipped_data()
    setup(
        packages=[*find_packages(include=["promptkit", "promptkit.*"]), *data],
        package_dir={f"{SHIPPED_PACKAGE}.{folder}": folder for folder in SHIPPED},
        package_data={"promptkit": TEMPLATE, **data},
        cmdclass={"build_py": BuildPy},
    )

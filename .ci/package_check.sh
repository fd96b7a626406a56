#!/usr/bin/env bash
# The package as students get it: build the wheel (through the sdist, as `python -m build` does), install it
# (not editable) into a fresh virtualenv outside the checkout, and use it from an empty folder:
#   promptkit ask · promptkit prompts list · promptkit init demo && cd demo && pytest
# Any failure stops the script with "PACKAGE CHECK FAILED: …" and a non-zero exit code.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/promptkit-package.XXXXXX")
python=${PYTHON:-python3}

fail() { echo "PACKAGE CHECK FAILED: $*" >&2; echo "(files kept in $work)" >&2; exit 1; }
step() { echo; echo "== package check: $*"; }
trap 'code=$?; if [ $code -ne 0 ]; then echo "PACKAGE CHECK FAILED at line $LINENO (exit $code); files kept in $work" >&2; fi' ERR

step "build the sdist and the wheel from $repo"
"$python" -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install -q build
"$work/build-venv/bin/python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; fail "the package did not build"; }
wheel=$(ls "$work"/dist/promptkit-*.whl)
"$work/build-venv/bin/python" -m zipfile -l "$wheel" >"$work/wheel.txt"
for must in _shipped/prompts/prompts.lock _shipped/chains/rag_course.yaml _shipped/corpus/ \
            _shipped/eval/datasets/course_qa.json _shipped/eval/suites/course.yaml project-template/README.md \
            ui/app.py; do
    grep -q "promptkit/$must" "$work/wheel.txt" || fail "the wheel has no promptkit/$must"
done
echo "built $(basename "$wheel") ($(grep -c promptkit/_shipped/ "$work/wheel.txt") shipped files)"

step "install it into a fresh virtualenv outside the checkout"
"$python" -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
pip install -q torch==2.13.0
pip install -q "${wheel}[models]" pytest
unset PYTHONPATH PROMPTKIT_PROJECT
cd "$work"
location=$(python -c "import promptkit; print(promptkit.__file__)")
case "$location" in
    "$work/venv/"*) echo "promptkit imported from $location" ;;
    *) fail "promptkit was imported from $location, not from the installed wheel" ;;
esac
# the converted models are reused (they are large); indexes, caches and everything else start empty
real_home=$(python -c "from promptkit.paths import home; print(home())")
export PROMPTKIT_HOME="$work/home"
mkdir -p "$PROMPTKIT_HOME"
if [ -d "$real_home/models" ]; then ln -s "$real_home/models" "$PROMPTKIT_HOME/models"; fi
package_hash() { python - <<'PY'
import hashlib, pathlib, promptkit
root = pathlib.Path(promptkit.__file__).parent
digest = hashlib.sha256()
for p in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
    digest.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
print(digest.hexdigest())
PY
}
before=$(package_hash)

step "promptkit --help"
promptkit --help >/dev/null || fail "promptkit --help failed"

step "promptkit ask (builds the course index from the shipped corpus)"
promptkit ask "Quantas tarefas compõem o MMLU?" | tee "$work/ask.txt" || fail "promptkit ask failed"
grep -q "\.md" "$work/ask.txt" || fail "promptkit ask listed no course source"

step "promptkit prompts list"
promptkit prompts list | tee "$work/prompts.txt" || fail "promptkit prompts list failed"
grep -Eq '^rag_qa .* shipped$' "$work/prompts.txt" || fail "prompts list does not show rag_qa as shipped"
promptkit chains list | grep -Eq '^rag_course .* shipped ' || fail "chains list does not show rag_course as shipped"

step "promptkit init demo && cd demo && pytest"
promptkit init demo
cd demo
pytest -q -p no:cacheprovider || fail "pytest failed in the project promptkit init wrote"
promptkit prompts list | grep -Eq '^resposta_curta .* project$' || fail "prompts list does not show the project's prompt"
promptkit eval check --cache strict --quiet || fail "the baseline pytest recorded does not replay"
[ -f eval/baselines/projeto/resposta_curta.json ] || fail "no baseline was written into the project"

step "nothing was written into the installed package"
[ "$(package_hash)" = "$before" ] || fail "files of the installed package changed"

deactivate
rm -rf "$work"
echo
echo "PACKAGE CHECK PASSED"

"""Merge the course QA parts (``parts/course_qa_*.json``) into ``course_qa.json``.

Re-runnable: it always rebuilds the merged file from whatever parts exist, in name order, validating each part
(answer offsets, unique ids) first. Run it with ``python eval/datasets/merge_parts.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # runnable from a checkout without installing the package
    sys.path.insert(0, str(ROOT))


def main() -> int:
    from promptkit.datasets import dataset_from_dict, merge_squad, split_counts
    from promptkit.fileio import atomic_write_json

    parts = sorted((HERE / "parts").glob("course_qa_*.json"))
    if not parts:
        print(f"no parts found under {HERE / 'parts'}", file=sys.stderr)
        return 1
    merged = merge_squad(parts)
    target = HERE / "course_qa.json"
    atomic_write_json(target, merged)
    examples = dataset_from_dict(merged).examples()
    unanswerable = sum(e.is_impossible for e in examples)
    print(f"merged {len(parts)} part(s): {', '.join(p.name for p in parts)}")
    print(
        f"wrote {target.relative_to(ROOT)}: {len(examples)} questions "
        f"({unanswerable} unanswerable), splits {split_counts(examples)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

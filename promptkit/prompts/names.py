"""Naming rules shared by the registry (kept free of pydantic so listing prompts stays fast)."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
LABEL_PATTERN = r"^[a-z][a-z0-9_-]*$"
RESERVED_LABELS = frozenset({"latest"})
VERSION_FILE = re.compile(r"^v([1-9][0-9]*)\.yaml$")

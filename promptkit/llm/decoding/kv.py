"""The one place that reaches into transformers' key/value cache objects.

The decoder keeps rows of different lengths in one cache, drops finished rows, copies a branch's cache for
several prompts and puts rows of several caches side by side. ``DynamicCache`` offers most of this
(``batch_select_indices``, ``batch_repeat_interleave``, ``crop``), but stacking rows of two caches needs its
layers' ``keys``/``values`` tensors, an internal layout. Everything that depends on that layout is here, and
:func:`check_compatible` fails loudly (instead of decoding garbage) when a transformers release changes it;
``tests/test_llm_kv.py`` runs that check against the installed version.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from typing import Any

from promptkit.errors import MissingDependencyError


def cache_argument(model: Any) -> str:
    """The forward argument that takes the key/value cache (``cache`` in recent transformers, else the old name)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def new_cache(model: Any) -> Any:
    """An empty dynamic cache for ``model``."""
    from transformers import DynamicCache

    try:
        return DynamicCache(config=model.config)
    except TypeError:  # older transformers
        return DynamicCache()


def copy_cache(cache: Any) -> Any:
    """An independent copy (its tensors are cloned), for a branch that goes on from a shared prefix."""
    return copy.deepcopy(cache)


def regroupable(cache: Any) -> bool:
    """Whether rows of ``cache`` can be taken apart and stacked (plain dynamic layers holding ``keys`` and
    ``values``)."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer).__name__ == "DynamicLayer" for layer in layers)


def keep_rows(cache: Any, rows: Sequence[int]) -> None:
    """Keep only ``rows`` of every layer, in that order (in place)."""
    import torch

    cache.batch_select_indices(torch.tensor(list(rows), dtype=torch.long))


def repeat_rows(cache: Any, times: int) -> None:
    """Repeat a batch-1 cache ``times`` times along the batch axis (in place)."""
    cache.batch_repeat_interleave(times)


def drop_last(cache: Any, count: int) -> None:
    """Forget the last ``count`` positions of every row (in place)."""
    if count:
        cache.crop(-count)


def stack_rows(pieces: Sequence[tuple[Any, Any, Any]]) -> tuple[Any, Any]:
    """Rows of several caches put side by side, each left-padded to the widest, padding masked out: ``pieces``
    are ``(cache, its rows: an index or slice, their attention mask)``. The first piece's cache object receives
    the result (in place); returns it and the joined mask."""
    import torch
    from torch.nn.functional import pad

    width = max(m.shape[1] for _, _, m in pieces)
    target = pieces[0][0]
    for n, layer in enumerate(target.layers):
        keys = [c.layers[n].keys[rows] for c, rows, _ in pieces]
        values = [c.layers[n].values[rows] for c, rows, _ in pieces]
        layer.keys = torch.cat([pad(k, (0, 0, width - k.shape[-2], 0)) for k in keys])
        layer.values = torch.cat([pad(v, (0, 0, width - v.shape[-2], 0)) for v in values])
    return target, torch.cat([pad(m, (width - m.shape[1], 0)) for _, _, m in pieces])


def check_compatible() -> None:
    """Fail with one clear error unless the installed transformers' ``DynamicCache`` has the layout this module
    relies on: a ``layers`` list of ``DynamicLayer`` objects with ``keys``/``values`` tensors of shape
    ``(batch, heads, positions, head_dim)``, and the row operations used above."""
    import torch

    try:
        import transformers
        from transformers import DynamicCache
    except ImportError:  # pragma: no cover - hard dependency
        raise MissingDependencyError("the local model needs transformers; pip install transformers") from None
    problem = None
    try:
        cache = DynamicCache()
        states = torch.zeros((2, 1, 3, 4))
        cache.update(states, states.clone(), 0)
        layer = cache.layers[0] if getattr(cache, "layers", None) else None
        if layer is None or type(layer).__name__ != "DynamicLayer":
            problem = "its layers are not DynamicLayer objects"
        elif tuple(layer.keys.shape) != (2, 1, 3, 4) or tuple(layer.values.shape) != (2, 1, 3, 4):
            problem = "DynamicLayer.keys/values do not hold (batch, heads, positions, head_dim) tensors"
        else:
            for name in ("batch_select_indices", "batch_repeat_interleave", "crop", "get_seq_length"):
                if not callable(getattr(cache, name, None)):
                    problem = f"DynamicCache.{name} is missing"
                    break
    except Exception as exc:  # noqa: BLE001 - any failure here means the layout changed
        problem = f"building a cache failed ({type(exc).__name__}: {exc})"
    if problem:
        raise MissingDependencyError(
            f"transformers {transformers.__version__} is not compatible with promptkit's decoder: {problem}",
            hint="install a transformers release between 5.0 and 5.x (pip install 'transformers>=5,<6')",
        )

"""``load_llm``: the chat model for a name, with its settings checked (and a local model's folder ready).

A name is, in this order: a served model of the project's ``models.yaml`` (:mod:`promptkit.llm.registry`), a
catalogue name, a local folder or a Hugging Face hub id. A LangChain chat model object is adopted as it is
(:func:`promptkit.llm.served.adopt`).

    >>> from promptkit.llm import load_llm
    >>> llm = load_llm()                      # the default Qwen2.5-Coder 0.5B, bf16, batches of 8
    >>> llm = load_llm("qwen-gpu")            # a model served by vLLM, named in models.yaml
    >>> llm.invoke("Quantas tarefas compõem o MMLU?").content
"""

from __future__ import annotations

import difflib
from typing import Any

from promptkit.errors import ValidationError

# Chosen by measurement on a 2-core CPU: bf16 halves latency against fp32 with the same answers, and padded
# batches of 8 cut the per-example time about 3.5x again (benchmarks/README.md).
DEFAULT_DTYPE = "bf16"
DEFAULT_BATCH_SIZE = 8
#: settings of the in-process decoder; a chain file may set them, and a served model has no use for them
LOCAL_ONLY = ("dtype", "threads", "draft_tokens", "prefix_cache", "progress")


def load_llm(name: Any = None, *, progress: bool = True, **settings: Any):
    """A :class:`~promptkit.llm.local.LocalChatModel` for a catalogue name, a local folder or a hub id.

    ``name`` may also name a served model of ``models.yaml`` (its entry gives the settings, ``settings``
    override them; the in-process decoder's settings :data:`LOCAL_ONLY` do not apply to it and are dropped) or
    be a LangChain chat model object (adopted as it is; no settings then).

    Settings are the model's fields: dtype ("bf16"|"fp32"), batch_size, threads, draft_tokens (prompt-lookup
    drafts per greedy step), prefix_cache, max_new_tokens (or max_tokens), temperature, top_p, seed, stop,
    timeout, cache (a LangChain cache, e.g. :class:`promptkit.cache.ReplayCache`). Unlike building
    ``LocalChatModel`` directly, the name is resolved now: an unknown name fails here, and a catalogue model's
    folder is built (once) and checked against its recorded hashes. Weights load on the first call that misses
    the cache, once per process for each (model, dtype).
    """
    from pydantic import ValidationError as PydanticError

    if name is not None and not isinstance(name, str):
        from promptkit.llm.served import adopt

        if settings:
            raise ValidationError(f"settings ({', '.join(sorted(settings))}) cannot change a chat model "
                                  "object",
                                  hint="set them on the object itself")
        return adopt(name)
    if name:
        from promptkit.llm.registry import served_entry

        entry = served_entry(name)
        if entry is not None:
            return _served(entry, settings)

    from promptkit.llm.local import LocalChatModel
    from promptkit.weights import DEFAULT_LLM

    try:
        model = LocalChatModel(model=name or DEFAULT_LLM, progress=progress, **settings)
    except PydanticError as exc:
        allowed = sorted(set(LocalChatModel.model_fields) - {"name", "callback_manager", "custom_get_token_ids"})
        extra = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden" and e["loc"]]
        if extra:
            close = [m for name in extra for m in difflib.get_close_matches(name, allowed, n=1)]
            raise ValidationError(
                f"unknown load_llm setting(s): {', '.join(extra)}"
                + (f"; did you mean {', '.join(close)}?" if close else ""),
                hint=f"settings are: {', '.join(allowed)}",
            ) from None
        literal = [e for e in exc.errors() if e["type"] == "literal_error" and e["loc"]]
        if literal:
            e = literal[0]
            raise ValidationError(f"unknown {e['loc'][0]} {e['input']!r}; expected one of: "
                                  f"{e.get('ctx', {}).get('expected', '?')}") from None
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise ValidationError(f"invalid load_llm settings ({problems})",
                              hint=f"settings are: {', '.join(allowed)}") from None
    if model.resolved.local_only:
        _ = model.path  # build a catalogue model's folder now (once), refusing a tampered one
    return model


def _served(entry: Any, settings: dict[str, Any]) -> Any:
    """The :class:`~promptkit.llm.served.ServedChatModel` of a models.yaml entry, ``settings`` overriding
    it."""
    from pydantic import ValidationError as PydanticError

    from promptkit.llm.served import ServedChatModel

    fields = entry.settings()
    own = {k: v for k, v in settings.items() if k not in LOCAL_ONLY}
    if "max_new_tokens" in own:
        fields.pop("max_tokens", None)
    try:
        return ServedChatModel(**{**fields, **own})
    except PydanticError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise ValidationError(f"invalid settings for served model {entry.name!r} ({problems})") from None

"""The word-sense disambiguation methods by name: what ``--wsd`` accepts and what ``auto`` stands for.

`resolve_method` turns a name (and a T5 model, when the user gave one) into the method object the
build uses: the Lesk family from disambiguate.py, or a `t5wsd.T5Disambiguator`. Nothing here is
registered or cached: the same arguments always resolve the same way.
"""

from __future__ import annotations

import logging

from .disambiguate import LESK, LESK_EMBEDDING, LESK_FAMILY
from .errors import CorpusError
from .t5wsd import T5Disambiguator
from .wsd import WSDMethod

log = logging.getLogger(__name__)


def all_methods(t5_model: str | None = None, device: str = "cpu") -> list[WSDMethod]:
    """Every method, in the order tables show them: the Lesk family, then `t5` when a T5 model is given."""
    return [*LESK_FAMILY, T5Disambiguator(t5_model, device)] if t5_model else list(LESK_FAMILY)


def _auto(t5_model: str | None, device: str) -> WSDMethod:
    """`t5` with a T5 model, else `lesk-embedding` when the sentence encoder loads, else `lesk`."""
    if t5_model:
        return T5Disambiguator(t5_model, device)
    from .sentence_encoder import sentence_encoder

    try:
        sentence_encoder()
    except CorpusError as exc:
        log.warning("--wsd auto: using lesk, the sentence encoder is not available (%s)", exc)
        return LESK
    return LESK_EMBEDDING


def resolve_method(name: str, t5_model: str | None = None, device: str = "cpu") -> WSDMethod:
    """The method `name` stands for (`auto`: see `_auto`); `t5_model` is a T5 model's folder or hub
    name, loaded (on `device`) only when the method is `t5`. Unknown names and `t5` without a model are
    user errors."""
    if name == "auto":
        return _auto(t5_model, device)
    if name == T5Disambiguator.name:
        if not t5_model:
            raise CorpusError("--wsd t5 needs a model: pass --t5-model /path/to/model/folder (or a hub name)")
        return T5Disambiguator(t5_model, device)
    found = next((m for m in LESK_FAMILY if m.name == name), None)
    if found is None:
        names = [m.name for m in LESK_FAMILY] + ([T5Disambiguator.name] if t5_model else [])
        raise CorpusError(f"unknown WSD method {name!r}; choose one of: auto, {', '.join(names)}")
    return found

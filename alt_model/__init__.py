"""ALT model: region-aware CLIP encoder, entity-to-region aligner, video adapter and text head (paper Sec. 3); and the
X-CLIP baseline (DESIGN §10)."""

from typing import Any

from .adapter import AdapterBlock, TokenReducer, VideoAdapter
from .aligner import AlignerOutput, EntityAligner
from .encoder import EncoderOutput, RegionAwareEncoder
from .errors import ModelError
from .flops import GFlops, Params, count_gflops, count_params
from .model import ALT, ALTOutput
from .text_head import LinearHead, TextHead, load_templates

LAZY = {"XCLIP": ".xclip", "load_hf_xclip": ".hf_xclip", "save_hf_xclip": ".hf_xclip"}  # they import open_clip (seconds)

__all__ = [
    "ALT", "ALTOutput", "AdapterBlock", "AlignerOutput", "EncoderOutput", "EntityAligner", "GFlops", "LinearHead", "ModelError",
    "Params", "RegionAwareEncoder", "TextHead", "TokenReducer", "VideoAdapter", "XCLIP", "count_gflops", "count_params",
    "load_hf_xclip", "load_templates", "save_hf_xclip",
]


def __getattr__(name: str) -> Any:
    """The X-CLIP names (`LAZY`), imported on first use so that `import alt_model` stays free of open_clip."""
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(LAZY[name], __name__), name)

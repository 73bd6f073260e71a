"""ALT model: region-aware CLIP encoder, entity-to-region aligner, video adapter and text head (paper Sec. 3); and the
X-CLIP baseline (DESIGN §10)."""

import importlib
from typing import Any

# What each public name is imported from, on first use: `import alt_model` (and every console script's --help and
# one-line errors) does not pay for torch and open_clip until a model is needed
_EXPORTS = {
    "AdapterBlock": ".adapter", "TokenReducer": ".adapter", "VideoAdapter": ".adapter",
    "AlignerOutput": ".aligner", "EntityAligner": ".aligner",
    "EncoderOutput": ".encoder", "RegionAwareEncoder": ".encoder",
    "ModelError": ".errors",
    "GFlops": ".flops", "Params": ".flops", "count_gflops": ".flops", "count_params": ".flops",
    "ALT": ".model", "ALTOutput": ".model",
    "LinearHead": ".text_head", "TextHead": ".text_head", "load_templates": ".text_head",
    "XCLIP": ".xclip", "load_hf_xclip": ".hf_xclip", "save_hf_xclip": ".hf_xclip",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)

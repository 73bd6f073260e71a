"""ALT model: region-aware CLIP encoder, entity-to-region aligner, video adapter and text head (paper Sec. 3)."""

from .adapter import AdapterBlock, TokenReducer, VideoAdapter
from .aligner import AlignerOutput, EntityAligner
from .encoder import EncoderOutput, RegionAwareEncoder
from .errors import ModelError
from .flops import GFlops, Params, count_gflops, count_params
from .model import ALT, ALTOutput
from .text_head import LinearHead, TextHead, load_templates

__all__ = [
    "ALT", "ALTOutput", "AdapterBlock", "AlignerOutput", "EncoderOutput", "EntityAligner", "GFlops", "LinearHead", "ModelError",
    "Params", "RegionAwareEncoder", "TextHead", "TokenReducer", "VideoAdapter", "count_gflops", "count_params", "load_templates",
]

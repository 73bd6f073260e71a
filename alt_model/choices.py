"""The names and defaults config values are checked against, in a module that imports nothing heavy: `alt_model.config`
(and with it every console script's config checks and one-line errors) needs no torch. Each is used where it belongs
(data.py, decode.py, encoder.py, model.py, adapter.py, precision.py, xclip.py) from here."""

SCALES = (1.0, 0.875, 0.75, 0.66)  # MultiScaleCrop (X-CLIP, TSN)
NORMS = ("tower", "imagenet")  # model.norm: the tower's own mean and std (CLIP's), or ImageNet's (X-CLIP's img_norm_cfg)
BACKENDS = ("pyav", "decord", "torchcodec")  # data.backend's decoders
AUTO_ORDER = ("pyav", "torchcodec", "decord")  # fastest first: see benchmarks/data.py and the README
BACKEND_CHOICES = ("auto", *BACKENDS)
DEFAULT_R = 8  # tokens merged per block: the paper's default (supplementary C.5)
CLS_LAYER, REGION_LAYER = -1, -2  # blocks the class embedding and the regions of E (Eq. 3) are taken after
ARCHS = ("alt", "xclip")  # model.arch: ALT (model.py), or the X-CLIP baseline (xclip.py)
QUERIES = ("corpus", "action-names", "learnable")
ALIGNER_SCALES = ("clip", "learned", "none")  # the cosines' scale before Eq. 4's noise: CLIP's logit scale, learned from it, or 1
ADAPTER_WIDTHS = ("vision", "joint")  # the adapter's channels: the image tower's (Table 1's size) or the joint space's
ADAPTERS = ("alt", "self-attention")  # Eq. 7-8's adapter, or Table 5a's self-attention layers over Ê
HEADS = ("text", "linear")  # Eq. 10's cosine logits against the labels' text, or Table 8's linear probe
FREEZE = ("none", "encoder", "all-but-head")  # what training leaves fixed: nothing, the image encoder (Table 6a), all but the head (Table 8)
XCLIP_FREEZE = ("none", "encoder")  # X-CLIP: nothing, or CLIP's image tower (Table 7's frozen visual branch)
REDUCE_ORDERS = ("mlp-mean", "sum-mlp")  # Eq. 6: MLP per token then the weighted mean (default), or as written
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LOGIT_SCALES = ("frozen", "learned")  # the logit scale in training: CLIP's, fixed (X-CLIP's FIX_TEXT), or learned

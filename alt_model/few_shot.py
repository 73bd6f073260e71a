"""K-shot evaluation (paper Sec. 4, supplementary A): per split, fine-tune a checkpoint on K videos per
class of its training list with the few-shot recipe (`configs/few_shot.yaml`: adapter lr ×10,
batch 64, 32 frames), then evaluate on the split. The K videos are drawn with the run's seed
(`data.shots`), so the same seed gives the same videos, whatever other K are run before or after.

Layout under `out` (alt-eval passes OUT/{K}shot): a split's folder is `out` itself for one split and
`out/NAME` for several (`split_folders`; names are unique, `evaluate.split_names`); it holds the split's
label set (`labels.txt`) and the fine-tuning run (`run/`: config.yaml, log.jsonl, last.pt, best.pt),
beside the metrics alt-eval writes there, so no split's files can meet another's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .checkpoint import load_checkpoint
from .config import load_config
from .errors import ModelError
from .evaluate import Metrics, Split
from .train import train


def split_folders(out: str | Path, splits: Sequence[Split]) -> list[Path]:
    """Where each split's results go: `out` itself for one split, `out/NAME` for several."""
    return [Path(out) / split.name if len(splits) > 1 else Path(out) for split in splits]


def few_shot(checkpoint: str | Path, config: str | Path, overrides: dict[str, Any], train_lists: Sequence[str | Path],
             splits: Sequence[Split], shots: int, out: str | Path, *, corpus: str | Path | None = None,
             video_root: str | Path | None = None, views: tuple[int, int] = (1, 1), device: str = "auto") -> list[Metrics]:
    """K-shot: per split, fine-tune the checkpoint on `shots` videos per class of its training list, then evaluate;
    the runs go to `run/` in each split's folder (`split_folders`)."""
    state = load_checkpoint(checkpoint)
    if len(train_lists) not in (1, len(splits)):
        raise ModelError(f"{len(train_lists)} training lists for {len(splits)} splits: pass one per split, or one shared")
    results = []
    for i, (split, folder) in enumerate(zip(splits, split_folders(out, splits))):
        cfg = load_config(config, overrides, base=state["config"])  # the checkpoint's run, then the few-shot recipe
        label_file = folder / "labels.txt"
        label_file.parent.mkdir(parents=True, exist_ok=True)
        label_file.write_text("".join(f"{label}\n" for label in split.labels), encoding="utf-8")
        cfg.data.labels, cfg.data.val_list = str(label_file), str(split.val_list)
        cfg.data.train_list = str(train_lists[i if len(train_lists) > 1 else 0])
        cfg.data.video_root = str(video_root or cfg.data.video_root)
        cfg.data.shots, cfg.train.init = shots, str(checkpoint)
        cfg.eval.clips, cfg.eval.crops, cfg.eval.every = views[0], views[1], 0
        cfg.out = str(folder / "run")
        result = train(cfg, corpus or state["corpus"], device=device)
        results.append(result.metrics)
    return results

"""Training (paper Sec. 3.3, supplementary A, DESIGN §9): one loop that reads top to bottom like the recipe.

- AdamW (β = 0.9, 0.98) with two parameter groups: the ViT of the region-aware encoder at
  `train.lr_vit` (8e-6) and everything else at `train.lr_adapter` (8e-5); weight decay 0.001 on
  matrices only, none on biases, norms, the logit scale, class and positional embeddings and the
  learned queries.
- Per optimizer step: linear warm-up from 0 over `warmup_epochs`, then cosine down to
  `min_lr_ratio` of the peak. One step takes `global_batch` videos: `batch_size` per process ×
  processes × accumulation; the last window of an epoch may be shorter and is averaged over its own
  micro-batches.
- Loss (Eq. 10): cross-entropy against soft targets: Mixup/CutMix (timm's `Mixup`, on the frames of
  a clip alike) with label smoothing folded in; a batch of odd size is not mixed, only smoothed.
- Mixed precision as `train.precision` says (`precision.py`: bf16 autocast on GPUs where supported,
  else fp16 with a GradScaler; fp32 on CPUs); gradient clipping; optional activation checkpointing of the ViT blocks (`model.grad_checkpointing`).
- Checkpoints `last.pt` at every epoch end (and every `save_every` steps), `best.pt` by validation
  top-1, `config.yaml`, and `log.jsonl` (a line per `log_every` steps and per epoch), all written by
  rank 0. `resume` continues exactly: the sampler order and every augmentation are functions of
  (seed, epoch, index), the RNG states are restored, and a mid-epoch checkpoint skips the batches
  already seen; on a CPU a resumed run ends with the same weights as an uninterrupted one.
- Distributed through torchrun (`distributed.py`): DistributedSampler, DDP with `no_sync` while
  accumulating, metrics summed over processes.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from alt_common.io import link_atomic
from alt_common.labels import read_labels

from . import distributed
from .checkpoint import (CHECKPOINT_FORMAT_VERSION, load_checkpoint, load_weights, model_state, rng_state,
                         save_atomic, set_rng_state)
from .config import Config, dump, to_dict
from .data import VideoDataset, collate, read_video_list, sample_shots, tower_norm, tower_size
from .distributed import Dist
from .errors import ModelError
from .evaluate import Metrics, evaluate
from .factory import create_model
from .precision import autocast, autocast_dtype, grad_scaler

log = logging.getLogger(__name__)
NO_DECAY = ("positional_embedding", "class_embedding", "learned_queries")


@dataclass
class TrainResult:
    """What a run ended with."""

    out: Path
    epochs_done: int
    steps: int
    train_loss: float
    metrics: Metrics | None  # the last validation, if any
    stopped: bool  # stopped early by `train.stop_after_steps`


def param_groups(model: torch.nn.Module, cfg: Config) -> list[dict[str, Any]]:
    """AdamW groups: (ViT | rest) × (decay | no decay), see the module docstring."""
    groups: dict[tuple[bool, bool], list[Tensor]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            decay = p.ndim >= 2 and not name.endswith(NO_DECAY)
            groups.setdefault((name.startswith("encoder."), decay), []).append(p)
    return [{"params": params, "lr": cfg.train.lr_vit if vit else cfg.train.lr_adapter,
             "weight_decay": cfg.train.weight_decay if decay else 0.0, "name": f"{'vit' if vit else 'adapter'}{'' if decay else '_no_decay'}"}
            for (vit, decay), params in sorted(groups.items(), reverse=True)]


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up to 1 over `warmup` steps, then cosine to `min_ratio` at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_mixer(cfg: Config, num_classes: int):
    """timm's Mixup/CutMix for the config, or None when both are off."""
    if cfg.aug.mixup <= 0 and cfg.aug.cutmix <= 0:
        return None
    from timm.data import Mixup

    return Mixup(mixup_alpha=cfg.aug.mixup, cutmix_alpha=cfg.aug.cutmix, switch_prob=cfg.aug.switch_prob, mode="batch",
                 label_smoothing=cfg.aug.label_smoothing, num_classes=num_classes)


def soft_targets(video: Tensor, labels: Tensor, num_classes: int, mixer: Any, smoothing: float) -> Tensor:
    """Mix `video` [B, T, 3, S, S] in place and return the soft targets [B, C]; odd batches are only smoothed."""
    if mixer is not None and len(labels) % 2 == 0:
        return mixer(video.flatten(1, 2), labels)[1]  # [B, T·3, S, S] view: one box / one λ for every frame of a clip
    from timm.data.mixup import mixup_target

    return mixup_target(labels, num_classes, 1.0, smoothing)


class RunLog:
    """log.jsonl lines (and TensorBoard scalars when it is installed), written by rank 0 only."""

    def __init__(self, out: Path, main: bool) -> None:
        self.file = open(out / "log.jsonl", "a", encoding="utf-8") if main else None
        self.board = None
        if main:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(out / "tensorboard"))
            except ImportError:
                pass

    def write(self, record: dict[str, Any], step: int) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.board is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("epoch", "step"):
                    self.board.add_scalar(f"{record['kind']}/{key}", value, step)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.board is not None:
            self.board.close()


def _progress(main: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[status]}"), console=console, disable=not (main and console.is_terminal), transient=True)


def train(cfg: Config, corpus: str | Path, resume: str | Path | None = None) -> TrainResult:
    """Train ALT as `cfg` says (see the module docstring); under torchrun, every process calls this."""
    d = distributed.setup()
    try:
        return _train(cfg, Path(corpus), Path(resume) if resume else None, d)
    finally:
        distributed.teardown(d)


def _train(cfg: Config, corpus: Path, resume: Path | None, d: Dist) -> TrainResult:
    out = Path(cfg.out)
    state = load_checkpoint(resume) if resume else None
    if state is None and (out / "last.pt").exists():
        raise ModelError(f"{out} already holds a run (last.pt); pass --resume to continue it or set out=... to start another")
    tc = cfg.train

    # ---- model, labels, data
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # the same initial weights in every process
    labels = read_labels([cfg.data.labels])[0] if cfg.data.labels else []
    if not labels:
        raise ModelError("data.labels is not set; pass the label file (one label per line, or a CSV with a 'name' column)")
    model = create_model(cfg, corpus, d.device)
    if tc.init and state is None:
        load_weights(model, load_checkpoint(tc.init)["model"], tc.init)
    with torch.no_grad():
        classes = model.text_head.class_embeddings(labels)  # frozen text tower: embedded once (Eq. 10)
    size, (mean, std) = tower_size(model.encoder.visual), tower_norm(model.encoder.visual)
    if not cfg.data.train_list:
        raise ModelError("data.train_list is not set; pass a video list (CSV 'path,label' or 'path label_id' lines)")
    items = read_video_list(cfg.data.train_list, cfg.data.video_root, labels, skip_missing=cfg.data.skip_missing)
    if cfg.data.shots:
        items = sample_shots(items, cfg.data.shots, cfg.seed)
    train_set = VideoDataset(items, cfg.model.frames, size, train=True, seed=cfg.seed, scales=cfg.aug.scales,
                             flip=cfg.aug.flip, mean=mean, std=std)
    val_set = None
    if cfg.data.val_list:
        val_items = read_video_list(cfg.data.val_list, cfg.data.video_root, labels, skip_missing=cfg.data.skip_missing)
        val_set = VideoDataset(val_items, cfg.model.frames, size, train=False, clips=cfg.eval.clips, crops=cfg.eval.crops,
                               mean=mean, std=std)

    # ---- batch arithmetic and schedule
    per_step = tc.batch_size * d.world
    if tc.global_batch % per_step:
        raise ModelError(f"train.global_batch {tc.global_batch} is not a multiple of train.batch_size × processes "
                         f"({tc.batch_size} × {d.world} = {per_step}); change one of them")
    accum = tc.global_batch // per_step
    sampler = DistributedSampler(train_set, num_replicas=d.world, rank=d.rank, shuffle=True, seed=cfg.seed)
    micro = math.ceil(len(sampler) / tc.batch_size)  # micro-batches per epoch and process
    steps_per_epoch = math.ceil(micro / accum)
    total_steps, warmup_steps = tc.epochs * steps_per_epoch, round(tc.warmup_epochs * steps_per_epoch)

    # ---- optimizer, schedule, precision, augmentation
    optimizer = torch.optim.AdamW(param_groups(model, cfg), betas=tuple(tc.betas), eps=1e-8)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, warmup_steps, total_steps, tc.min_lr_ratio))
    dtype = autocast_dtype(tc.precision, d.device)
    scaler = grad_scaler(dtype)
    mixer = make_mixer(cfg, len(labels))
    ddp = DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None) if d.world > 1 else model
    trainable = [p for p in model.parameters() if p.requires_grad]

    # ---- where to start
    epoch, batches_done, step, best = 0, 0, 0, -1.0
    sums = torch.zeros(3, dtype=torch.float64)  # this epoch's loss · videos, videos, skipped videos
    if state is not None:
        load_weights(model, state["model"], resume)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        epoch, batches_done, step, best = state["epoch"], state["batches_done"], state["step"], state["best_top1"]
        sums = state["epoch_sums"].clone()
        if len(state["rng"]) != d.world:
            log.warning("resuming %d processes from a run of %d: the random streams differ, so the result will not be identical",
                        d.world, len(state["rng"]))
        set_rng_state(state["rng"][d.rank % len(state["rng"])])
        log.info("resumed from %s at epoch %d, step %d", resume, epoch + 1, step)
    else:
        random.seed(cfg.seed + d.rank)  # per-process streams for Gumbel noise and Mixup
        np.random.seed(cfg.seed + d.rank)
        torch.manual_seed(cfg.seed + d.rank)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(dump(cfg), encoding="utf-8")
        log.info("%d training videos, %d labels; %d steps of %d videos (%d × %d processes × %d accumulation) per epoch",
                 len(train_set), len(labels), steps_per_epoch, tc.global_batch, tc.batch_size, d.world, accum)
    runlog = RunLog(out, d.main)

    def save(name: str, metrics: Metrics | None = None) -> None:
        rngs = distributed.gather(rng_state(), d)
        if not d.main:
            return
        save_atomic({"model": model_state(model), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "scaler": scaler.state_dict(), "epoch": epoch, "batches_done": batches_done, "step": step, "best_top1": best,
                     "epoch_sums": sums, "rng": rngs, "config": to_dict(cfg), "labels": labels, "corpus": str(corpus.resolve()),
                     "metrics": metrics.summary() if metrics else None, "format_version": CHECKPOINT_FORMAT_VERSION}, out / name)

    # ---- the loop
    steps_this_run, metrics, stopped, train_loss = 0, None, False, float("nan")
    with _progress(d.main) as progress:
        while epoch < tc.epochs and not stopped:
            sampler.set_epoch(epoch)
            train_set.set_epoch(epoch)
            order = list(sampler)[batches_done * tc.batch_size :]  # a mid-epoch resume skips what was seen
            loader = DataLoader(train_set, tc.batch_size, sampler=order, num_workers=cfg.data.workers, collate_fn=collate,
                                pin_memory=d.device.type == "cuda", generator=torch.Generator().manual_seed(cfg.seed))
            model.train()
            task = progress.add_task(f"epoch {epoch + 1}/{tc.epochs}", total=micro, completed=batches_done, status="")
            tick, tick_videos, tick_loss = time.perf_counter(), 0, 0.0
            for i, batch in enumerate(loader, start=batches_done):
                window_start = i - i % accum
                window = min(accum, micro - window_start)
                last = i + 1 == window_start + window
                video, targets_idx = batch.video.to(d.device, non_blocking=True), batch.labels.to(d.device)
                with ddp.no_sync() if d.world > 1 and not last else nullcontext():
                    with autocast(d.device, dtype):
                        if len(targets_idx):
                            targets = soft_targets(video, targets_idx, len(labels), mixer, cfg.aug.label_smoothing)
                            logits = ddp(video, classes).logits.float()
                            loss = -(targets * logits.log_softmax(dim=-1)).sum(dim=-1).mean()  # Eq. 10 with soft targets
                        else:  # every video of the batch was unreadable: a zero loss keeps the processes in step
                            loss = 0.0 * sum(p.sum() for p in trainable)
                    scaler.scale(loss / window).backward()
                n, value = len(targets_idx), float(loss.detach())
                sums += torch.tensor([value * n, n, batch.failed], dtype=torch.float64)
                tick_videos, tick_loss = tick_videos + n, tick_loss + value * n
                progress.update(task, advance=1, status=f"loss {value:.4f}")
                if not last:
                    continue
                if tc.grad_clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(trainable, tc.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step, steps_this_run, batches_done = step + 1, steps_this_run + 1, i + 1
                if step % tc.log_every == 0:
                    seconds = time.perf_counter() - tick
                    runlog.write({"kind": "step", "epoch": epoch + 1, "step": step, "loss": tick_loss / max(1, tick_videos),
                                  **{f"lr_{g['name']}": g["lr"] for g in optimizer.param_groups},
                                  "videos_per_s": tick_videos * d.world / max(seconds, 1e-9)}, step)
                    tick, tick_videos, tick_loss = time.perf_counter(), 0, 0.0
                stopped = tc.stop_after_steps is not None and steps_this_run >= tc.stop_after_steps
                if batches_done < micro and (stopped or (tc.save_every and step % tc.save_every == 0)):
                    save("last.pt")
                    if stopped:
                        break
            progress.remove_task(task)
            if batches_done < micro:  # stopped inside the epoch
                break

            # ---- epoch end: summary, validation, checkpoints
            epoch, batches_done = epoch + 1, 0
            total = distributed.sum_all(sums, d)
            record = {"kind": "epoch", "epoch": epoch, "step": step, "train_loss": float(total[0] / max(1, total[1])),
                      "videos": int(total[1]), "skipped": int(total[2])}
            if val_set is not None and ((cfg.eval.every and epoch % cfg.eval.every == 0) or epoch == tc.epochs):
                metrics = evaluate(model, val_set, classes, labels, batch_size=cfg.eval.batch_size, workers=cfg.data.workers,
                                   d=d, dtype=dtype)
                record["val"] = metrics.summary()
                best = max(best, metrics.top1)
            runlog.write(record, step)
            if d.main:
                val = f", val top-1 {metrics.top1:.3f} top-5 {metrics.top5:.3f}" if "val" in record else ""
                log.info("epoch %d/%d: train loss %.4f, %d videos, %d skipped%s", epoch, tc.epochs, record["train_loss"],
                         record["videos"], record["skipped"], val)
            sums, train_loss = torch.zeros(3, dtype=torch.float64), record["train_loss"]
            save("last.pt", metrics if "val" in record else None)
            if d.main and "val" in record and metrics.top1 >= best:
                link_atomic(out / "last.pt", out / "best.pt")
            distributed.barrier(d)
    runlog.close()
    return TrainResult(out, epoch, step, train_loss, metrics, stopped)

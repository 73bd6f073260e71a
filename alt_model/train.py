"""Training (paper Sec. 3.3, supplementary A, DESIGN §9): one loop that reads top to bottom like the recipe.

- AdamW (β = 0.9, 0.98) with two parameter groups: CLIP's pretrained weights (`model.is_pretrained`:
  ALT's image tower) at `train.lr_vit` (8e-6) and everything else at `train.lr_adapter` (8e-5); weight decay 0.001 on
  matrices only, none on biases, norms, the logit scale, class and positional embeddings (X-CLIP's MIT's too) and
  the learned queries. Fused on GPUs.
- Per optimizer step (`schedule.py`): linear warm-up from 0 over `warmup_epochs`, then cosine down to
  `min_lr_ratio` of the peak (`train.schedule: warmup-cosine`; X-CLIP's configs: `timm-cosine`). One step takes
  `global_batch` videos: `batch_size` per process × processes × accumulation; the last window of an epoch may be
  shorter and is averaged over its own micro-batches (`BatchPlan`).
- Loss (Eq. 10, `loss.py`): cross-entropy against soft targets: Mixup/CutMix (timm's `Mixup`, on
  the frames of a clip alike) with label smoothing folded in; a batch of odd size is not mixed, only
  smoothed.
- Mixed precision as `train.precision` says (`precision.py`: bf16 autocast on GPUs that have it
  natively, else fp16 with a GradScaler; fp32 on CPUs); gradient clipping; optional activation checkpointing
  of the ViT blocks (`model.grad_checkpointing`).
- No host sync per micro-batch: one DataLoader for the run (persistent workers, pinned batches, non-blocking
  copies); losses summed on the device and read every `log_every` steps; non-finite losses and gradients noted
  on the device (`health.py`) and checked before every log line, checkpoint and evaluation, so none holds them.
- A micro-batch whose videos were all unreadable still runs the model (a blank clip, loss weighted 0), so
  that under DDP every process takes part in every gradient all-reduce.
- Checkpoints `last.pt` at every epoch end (and every `save_every` steps), `best.pt`, `config.yaml`,
  and `log.jsonl` (a line per `log_every` steps and per epoch), all written by rank 0. `best.pt` is
  never chosen on `data.val_list` (for Kinetics-400, the split the results are reported on): with
  `data.holdout` > 0 it is the epoch with the best top-1 on that fraction of each class's training
  videos, kept out of training (`select` in the log); with none (0, the default: the whole training
  set for the whole schedule) it is the last completed epoch. `val_list` is evaluated and logged
  (`val`) all the same, and selects nothing (`best_rule`, said once at the start).
- `resume` continues exactly: the sampler order and every augmentation are functions of (seed,
  epoch, index), the RNG states are restored, and a mid-epoch checkpoint skips the batches already
  seen; on a CPU a resumed run ends with the same weights as an uninterrupted one.
- Distributed through torchrun (`distributed.py`): DistributedSampler (from a clip store, `data.store`:
  `data.ShardOrder`, each process its own shards), DDP with `no_sync` while accumulating, metrics summed
  over processes.

The recipe, as `_train` reads: `build` the run (model, data, optimizer, scheduler, scaler), `start`
it fresh or `restore` it from a checkpoint (a `TrainState`), then per epoch `train_epoch` (per
micro-batch `micro_step`, per window `optimizer_step`) and `end_epoch` (evaluate, log, `save`, link best.pt).
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

from alt_common.clip import RANDOM_WEIGHTS_WARNING, runs_random_weights
from alt_common.errors import Failed
from alt_common.io import atomic_write, link_atomic, writing
from alt_common.labels import read_labels

from . import distributed
from .checkpoint import Counters, TrainState, load_checkpoint, load_weights, model_state, rng_state, save_atomic, set_rng_state
from .config import Config, dump, to_dict
from .data import Batch, EpochOrder, ShardOrder, VideoDataset, VideoItem, collate, read_video_list, sample_shots, split_holdout, tower_norm, tower_size
from .decode import resolve_backend
from .distributed import Dist
from .errors import ModelError
from .evaluate import Metrics, evaluate
from .factory import create_model
from .health import Health
from .loss import make_mixer, soft_cross_entropy, soft_targets
from .model import ALT
from .precision import autocast, autocast_dtype, grad_scaler
from .schedule import BatchPlan, lr_lambdas
from .store import ClipStore, open_store

log = logging.getLogger(__name__)
NO_DECAY = ("positional_embedding", "position_embedding", "class_embedding", "learned_queries")  # and every 1-D parameter


@dataclass
class TrainResult:
    """What a run ended with."""

    out: Path
    epochs_done: int
    steps: int
    train_loss: float
    metrics: Metrics | None  # the last validation, if any
    stopped: bool  # stopped early by `train.stop_after_steps`


@dataclass
class Run:
    """The live objects of a run, as `build` makes them."""

    cfg: Config
    d: Dist
    corpus: Path
    labels: list[str]
    model: ALT
    ddp: torch.nn.Module  # `model`, wrapped in DDP under torchrun
    trainable: list[Tensor]
    classes: Tensor  # [C, d] class embeddings of `labels` (the text tower is frozen: embedded once, Eq. 10)
    train_set: VideoDataset
    val_set: VideoDataset | None  # data.val_list: evaluated and logged, never selects best.pt
    holdout_set: VideoDataset | None  # data.holdout of the training videos, kept out of training: selects best.pt
    order: EpochOrder  # a DistributedSampler's order with the epoch beside each index (persistent workers augment by it)
    loader: DataLoader  # over `train_set` in `order`; its workers live as long as the run
    plan: BatchPlan
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    dtype: torch.dtype | None  # autocast dtype (precision.py); None: fp32
    mixer: Any  # timm's Mixup, or None
    health: Health  # non-finite losses and gradients, noted on the device (health.py)

    @property
    def out(self) -> Path:
        return Path(self.cfg.out)


def param_groups(model: ALT, cfg: Config) -> list[dict[str, Any]]:
    """AdamW groups: (CLIP's pretrained weights | the rest) × (decay | no decay), see the module docstring."""
    groups: dict[tuple[bool, bool], list[Tensor]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            decay = p.ndim >= 2 and not name.endswith(NO_DECAY)
            groups.setdefault((model.is_pretrained(name), decay), []).append(p)
    return [{"params": params, "lr": cfg.train.lr_vit if vit else cfg.train.lr_adapter,
             "weight_decay": cfg.train.weight_decay if decay else 0.0, "name": f"{'vit' if vit else 'adapter'}{'' if decay else '_no_decay'}"}
            for (vit, decay), params in sorted(groups.items(), reverse=True)]


def seed_all(seed: int) -> None:
    """Seed python's, numpy's and torch's global random streams."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _finite(value: Any) -> Any:
    """`value` with every non-finite float as None: log.jsonl stays JSON (no bare NaN or Infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class RunLog:
    """log.jsonl lines (and TensorBoard scalars when it is installed), written by rank 0 only."""

    def __init__(self, out: Path, main: bool) -> None:
        self.path = out / "log.jsonl"
        self.file = open(self.path, "a", encoding="utf-8") if main else None
        self.board = None
        if main:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(out / "tensorboard"))
            except ImportError:
                pass

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, record: dict[str, Any], step: int) -> None:
        if self.file is None:
            return
        with writing(self.path):  # a full disk is a one-line failure, here and at close
            self.file.write(json.dumps(_finite(record), allow_nan=False) + "\n")
            self.file.flush()
        if self.board is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("epoch", "step"):
                    self.board.add_scalar(f"{record['kind']}/{key}", value, step)

    def close(self) -> None:
        if self.file is not None:
            with writing(self.path):
                self.file.close()
        if self.board is not None:
            self.board.close()


class StepMeter:
    """Loss and throughput over the micro-batches since the last step line of the log; the loss is summed on the
    device and read once, by `record`."""

    def __init__(self, device: torch.device) -> None:
        self.start, self.videos = time.perf_counter(), 0
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)

    def add(self, loss: Tensor, videos: int) -> None:
        self.videos, self.loss_sum = self.videos + videos, self.loss_sum + loss.double() * videos

    def record(self, run: Run, at: Counters) -> dict[str, Any]:
        """The log line of step `at.step`."""
        seconds = time.perf_counter() - self.start
        return {"kind": "step", "epoch": at.epoch + 1, "step": at.step, "loss": float(self.loss_sum) / max(1, self.videos),
                **{f"lr_{g['name']}": g["lr"] for g in run.optimizer.param_groups},
                "videos_per_s": self.videos * run.d.world / max(seconds, 1e-9)}


def _progress(main: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[status]}"), console=console, disable=not (main and console.is_terminal), transient=True)


def train(cfg: Config, corpus: str | Path, resume: str | Path | None = None, device: str = "auto") -> TrainResult:
    """Train ALT as `cfg` says (see the module docstring) on `device` (`distributed.setup`); under torchrun,
    every process calls this."""
    d = distributed.setup(device)
    try:
        return _train(cfg, Path(corpus), Path(resume) if resume else None, d)
    finally:
        distributed.teardown(d)


def _train(cfg: Config, corpus: Path, resume: Path | None, d: Dist) -> TrainResult:
    """The recipe: build, start or restore, then epochs of training, each closed by evaluation, a log line and checkpoints."""
    state = TrainState.from_dict(load_checkpoint(resume), resume) if resume else None
    if state is None and (Path(cfg.out) / "last.pt").exists():
        raise ModelError(f"{cfg.out} already holds a run (last.pt); pass --resume to continue it, or another --out to start a new one")
    run = build(cfg, corpus, d)
    at = restore(run, state, resume) if state is not None else start(run)
    stop_at = None if cfg.train.stop_after_steps is None else at.step + cfg.train.stop_after_steps
    if d.main and runs_random_weights(run.model):  # once every input is known good: bad input stays a one-line error
        log.warning(RANDOM_WEIGHTS_WARNING)
    announce(run)
    metrics, train_loss, stopped = None, float("nan"), False
    with RunLog(run.out, d.main) as runlog, _progress(d.main) as bar:
        while at.epoch < cfg.train.epochs and not stopped:
            stopped = train_epoch(run, at, stop_at, runlog, bar)
            if at.batches_done < run.plan.micro:  # stopped inside the epoch
                break
            train_loss, validated = end_epoch(run, at, runlog)
            metrics = validated if validated is not None else metrics
    return TrainResult(run.out, at.epoch, at.step, train_loss, metrics, stopped)


def build(cfg: Config, corpus: Path, d: Dist) -> Run:
    """The model, data, optimizer, scheduler and scaler of a run; every process builds the same initial weights."""
    tc = cfg.train
    resolve_backend(cfg.data.backend)  # a decoding backend not installed here stops the run before the model is built
    seed_all(cfg.seed)
    labels = read_labels([cfg.data.labels])[0] if cfg.data.labels else []
    if not labels:
        raise ModelError("data.labels is not set; pass the label file (one label per line, or a CSV with a 'name' column)")
    model = create_model(cfg, corpus, d.device, num_classes=len(labels))
    model.freeze(tc.freeze)  # Table 6a, Table 8
    with torch.no_grad():
        classes = model.text_head.class_embeddings(labels)
    train_set, val_set, holdout_set = build_datasets(cfg, labels, model)
    if train_set.store:  # each process its own shards, dealt again every epoch
        sampler: DistributedSampler | ShardOrder = ShardOrder(train_set.store.shards_of(train_set.items), d.world, d.rank, cfg.seed)
    else:
        sampler = DistributedSampler(train_set, num_replicas=d.world, rank=d.rank, shuffle=True, seed=cfg.seed)
    order = EpochOrder(sampler)
    plan = BatchPlan.of(tc, d.world, len(sampler))
    total_steps, warmup_steps = tc.epochs * plan.steps_per_epoch, round(tc.warmup_epochs * plan.steps_per_epoch)
    # fused on GPUs: one kernel for all tensors, and GradScaler's inf check stays on the device (no host sync per step)
    optimizer = torch.optim.AdamW(param_groups(model, cfg), betas=tuple(tc.betas), eps=1e-8, fused=d.device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambdas(optimizer, tc, plan, warmup_steps, total_steps))
    dtype = autocast_dtype(tc.precision, d.device)
    ddp = DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None) if d.world > 1 else model
    return Run(cfg=cfg, d=d, corpus=corpus, labels=labels, model=model, ddp=ddp,
               trainable=[p for p in model.parameters() if p.requires_grad], classes=classes, train_set=train_set, val_set=val_set,
               holdout_set=holdout_set, order=order, loader=train_loader(train_set, order, cfg, d), plan=plan,
               optimizer=optimizer, scheduler=scheduler, scaler=grad_scaler(dtype), dtype=dtype, mixer=make_mixer(cfg.aug, len(labels)),
               health=Health(d.device))


def train_loader(dataset: VideoDataset, order: EpochOrder, cfg: Config, d: Dist) -> DataLoader:
    """One loader for the whole run: `data.workers` processes kept alive across epochs (no re-spawn, no re-import per
    epoch), batches in pinned memory on GPUs so that copies to the device overlap the compute."""
    workers = cfg.data.workers
    return DataLoader(dataset, cfg.train.batch_size, sampler=order, num_workers=workers, collate_fn=collate,
                      pin_memory=d.device.type == "cuda", persistent_workers=workers > 0,
                      generator=torch.Generator().manual_seed(cfg.seed))


def build_datasets(cfg: Config, labels: list[str], model: ALT) -> tuple[VideoDataset, VideoDataset | None, VideoDataset | None]:
    """(training, validation, holdout) videos at the tower's size and norm: the training list less the `data.holdout` videos
    (K per class of the rest with `data.shots`), the validation list if set, and the held-out videos if any; both
    evaluated with the test views."""
    if not cfg.data.train_list:
        raise ModelError("data.train_list is not set; pass a video list (CSV 'path,label' or 'path label_id' lines)")
    size, (mean, std) = tower_size(model.encoder.visual), tower_norm(model.encoder.visual)

    def listed(path: str) -> tuple[list[VideoItem], ClipStore | None]:
        if cfg.data.store:
            store = open_store(cfg.data.store, path)
            return store.items(labels), store
        return read_video_list(path, cfg.data.video_root, labels, skip_missing=cfg.data.skip_missing), None

    def test_views(items: list[VideoItem], store: ClipStore | None) -> VideoDataset:
        return VideoDataset(items, cfg.model.frames, size, train=False, clips=cfg.eval.clips, crops=cfg.eval.crops, mean=mean, std=std,
                            backend=cfg.data.backend, decode_resize=cfg.data.decode_resize, store=store)

    items, store = listed(cfg.data.train_list)
    items, held = split_holdout(items, cfg.data.holdout, cfg.seed)
    if cfg.data.holdout and not held:
        raise ModelError(f"data.holdout {cfg.data.holdout}: no class of {cfg.data.train_list} has 2 or more training videos, so none "
                         "can be held out to pick best.pt on; set data.holdout=0 (best.pt: the last epoch)")
    if cfg.data.shots:
        items = sample_shots(items, cfg.data.shots, cfg.seed)
    train_set = VideoDataset(items, cfg.model.frames, size, train=True, seed=cfg.seed, scales=cfg.aug.scales, flip=cfg.aug.flip,
                             mean=mean, std=std, backend=cfg.data.backend, decode_resize=cfg.data.decode_resize, store=store)
    val_set = test_views(*listed(cfg.data.val_list)) if cfg.data.val_list else None
    return train_set, val_set, test_views(held, store) if held else None


def start(run: Run) -> Counters:
    """A fresh run: `train.init`'s weights when set, and a random stream per process (Gumbel noise, Mixup)."""
    init = run.cfg.train.init
    if init:  # a linear probe's head is new: the checkpoint it probes has none
        load_weights(run.model, load_checkpoint(init)["model"], init, fresh=("linear_head.",) if run.cfg.model.head == "linear" else ())
    seed_all(run.cfg.seed + run.d.rank)
    return Counters()


def restore(run: Run, state: TrainState, source: Path) -> Counters:
    """Continue where `state` left off: weights, optimizer, scheduler, scaler, and this process's random streams."""
    load_weights(run.model, state.model, source)
    for part, load in (("optimizer", run.optimizer.load_state_dict), ("scheduler", run.scheduler.load_state_dict),
                       ("scaler", run.scaler.load_state_dict)):
        try:
            load(getattr(state, part))
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
            raise ModelError(f"{source}: its {part} state is missing or does not fit this run ({type(exc).__name__}: "
                             f"{str(exc)[:120]}); resume from a last.pt alt-train wrote for this config") from None
    if not isinstance(state.rng, list) or not state.rng:
        raise ModelError(f"{source}: it holds no RNG states; resume from a last.pt alt-train wrote")
    if len(state.rng) != run.d.world:
        log.warning("resuming %d processes from a run of %d: the random streams differ, so the result will not be identical",
                    run.d.world, len(state.rng))
    try:
        set_rng_state(state.rng[run.d.rank % len(state.rng)])
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
        raise ModelError(f"{source}: its RNG state is missing or malformed ({type(exc).__name__}: {str(exc)[:120]}); "
                         "resume from a last.pt alt-train wrote") from None
    log.info("resumed from %s at epoch %d, step %d", source, state.counters.epoch + 1, state.counters.step)
    return state.counters


def announce(run: Run) -> None:
    """Rank 0: the run folder with its config.yaml, and a line on the data and the batch arithmetic."""
    if not run.d.main:
        return
    tc = run.cfg.train
    run.out.mkdir(parents=True, exist_ok=True)
    text = dump(run.cfg)
    atomic_write(run.out / "config.yaml", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    log.info("%d training videos, %d labels; %d steps of %d videos (%d × %d processes × %d accumulation) per epoch", len(run.train_set),
             len(run.labels), run.plan.steps_per_epoch, tc.global_batch, tc.batch_size, run.d.world, run.plan.accum)
    log.info("best.pt: %s", best_rule(run))


def best_rule(run: Run) -> str:
    """What picks best.pt in this run, in words (see the module docstring)."""
    val = "data.val_list is evaluated and logged, never used to pick it"
    if run.holdout_set is None:
        return f"the last completed epoch (data.holdout=0: the whole training set is trained on); {val}"
    every = run.cfg.eval.every
    when = "after every epoch" if every == 1 else f"every {every} epochs and at the end" if every else "at the end only (eval.every=0)"
    return (f"the epoch with the best top-1 on {len(run.holdout_set)} training videos held out of training (data.holdout="
            f"{run.cfg.data.holdout:g}), evaluated {when}; {val}")


def train_epoch(run: Run, at: Counters, stop_at: int | None, runlog: RunLog, bar: Any) -> bool:
    """Epoch `at.epoch` from micro-batch `at.batches_done` on; True when the run reached `stop_at` steps (and checkpointed).
    Nothing here waits for the GPU but the log lines and checkpoints: losses are summed on the device (`StepMeter`,
    `Counters.add`) and checked there (`Health`), read every `train.log_every` steps and before each checkpoint."""
    tc, plan = run.cfg.train, run.plan
    run.order.start(at.epoch, at.batches_done * tc.batch_size)  # a mid-epoch resume skips what was seen
    run.model.train()
    task = bar.add_task(f"epoch {at.epoch + 1}/{tc.epochs}", total=plan.micro, completed=at.batches_done, status="")
    meter, stopped = StepMeter(run.d.device), False
    for i, batch in enumerate(run.loader, start=at.batches_done):
        window, closes = plan.window(i)
        loss, videos = micro_step(run, batch, window, sync=closes)
        at.add(loss, videos, batch.failed)
        meter.add(loss, videos)
        run.health.note(loss, at.step + 1)
        bar.update(task, advance=1)
        if not closes:
            continue
        optimizer_step(run, at.step + 1)
        at.step, at.batches_done = at.step + 1, i + 1
        stopped = stop_at is not None and at.step >= stop_at
        saving = at.batches_done < plan.micro and (stopped or bool(tc.save_every and at.step % tc.save_every == 0))
        if at.step % tc.log_every == 0 or saving:
            run.health.check(run.d, at.epoch, run.out)
        if at.step % tc.log_every == 0:
            record = meter.record(run, at)
            runlog.write(record, at.step)
            bar.update(task, status=f"loss {record['loss']:.4f}")
            meter = StepMeter(run.d.device)
        if saving:
            save(run, at, "last.pt")
            if stopped:
                break
    bar.remove_task(task)
    return stopped


def micro_step(run: Run, batch: Batch, window: int, sync: bool) -> tuple[Tensor, int]:
    """Forward and backward of one micro-batch, its loss (Eq. 10) weighted 1/`window`; gradients are
    all-reduced only when `sync` (the window's last). Returns (the loss, on the device, and the videos).

    A micro-batch whose videos were all unreadable still runs the model, on one blank clip with its loss
    weighted 0: under DDP every process must run the forward and backward whose gradients the others
    all-reduce, or they wait for each other forever."""
    device = run.d.device
    video, labels = batch.video.to(device, non_blocking=True), batch.labels.to(device, non_blocking=True)
    empty = not len(batch.labels)
    if empty:
        video = torch.zeros(1, *run.train_set.clip_shape, device=device)
    with run.ddp.no_sync() if run.d.world > 1 and not sync else nullcontext():
        with autocast(device, run.dtype):
            targets = None if empty else soft_targets(video, labels, len(run.labels), run.mixer, run.cfg.aug.label_smoothing)  # mixes `video`
            logits = run.ddp(video, run.classes).logits.float()
            loss = 0.0 * logits.sum() if targets is None else soft_cross_entropy(logits, targets)
        run.scaler.scale(loss / window).backward()
    return loss.detach(), len(batch.labels)


def optimizer_step(run: Run, step: int) -> None:
    """Optimizer step `step`, on the window's gradients: unscale and clip, step, scheduler, clear. The gradient
    norm is noted in `run.health` unless fp16's GradScaler owns the gradients (it skips steps with inf ones)."""
    norm = None
    if run.cfg.train.grad_clip:
        run.scaler.unscale_(run.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(run.trainable, run.cfg.train.grad_clip)
    if not run.scaler.is_enabled():
        grads = [p.grad for p in run.trainable if p.grad is not None]
        run.health.note(norm if norm is not None else torch.nn.utils.get_total_norm(grads), step)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)


def end_epoch(run: Run, at: Counters, runlog: RunLog) -> tuple[float, Metrics | None]:
    """Close an epoch: its train loss summed over processes, the holdout and validation evaluations when due, the log
    line, last.pt, and best.pt (`best_rule`). Returns (train loss, validation metrics or None)."""
    cfg, d = run.cfg, run.d
    run.health.check(d, at.epoch, run.out)  # before anything is evaluated, logged or saved
    at.epoch, at.batches_done = at.epoch + 1, 0
    total = distributed.sum_all(at.epoch_sums.clone(), d)
    record = {"kind": "epoch", "epoch": at.epoch, "step": at.step, "train_loss": float(total[0] / max(1, total[1])),
              "videos": int(total[1]), "skipped": int(total[2])}
    if record["videos"] == 0:  # every training video of the epoch was unreadable: nothing was learned, nothing to save
        runlog.write(record, at.step)
        raise Failed(f"epoch {at.epoch}: none of the {record['skipped']} training videos could be read (see the warnings above); "
                     f"no checkpoint was written; check the files of {cfg.data.train_list} under {cfg.data.video_root}")
    due = bool(cfg.eval.every and at.epoch % cfg.eval.every == 0) or at.epoch == cfg.train.epochs
    select = _evaluate(run, run.holdout_set) if due and run.holdout_set is not None else None
    metrics = _evaluate(run, run.val_set) if due and run.val_set is not None else None
    if select is not None:
        record["select"] = select.summary()
    if metrics is not None:
        record["val"] = metrics.summary()
    runlog.write(record, at.step)
    if d.main:
        held = f", holdout top-1 {select.top1:.3f}" if select is not None else ""
        val = f", val top-1 {metrics.top1:.3f} top-5 {metrics.top5:.3f}" if metrics is not None else ""
        log.info("epoch %d/%d: train loss %.4f, %d videos, %d skipped%s%s", at.epoch, cfg.train.epochs, record["train_loss"],
                 record["videos"], record["skipped"], held, val)
    at.epoch_sums = torch.zeros(3, dtype=torch.float64)
    # best.pt (`best_rule`): the best holdout top-1, the later epoch on a tie; with no holdout, every completed epoch.
    # `metrics` (data.val_list) takes no part.
    best = run.holdout_set is None or (select is not None and select.count > 0 and select.top1 >= at.best_top1)
    if run.holdout_set is not None and best:
        at.best_top1 = select.top1
    save(run, at, "last.pt", metrics)
    # a top-1 of 0.0 over no videos is no evaluation: stop before best.pt is linked to it
    for name, m, source in (("holdout", select, f"held-out training videos (data.holdout) of {cfg.data.train_list}"),
                            ("validation", metrics, f"videos of {cfg.data.val_list}")):
        if m is not None and m.count == 0:
            raise Failed(f"{name} after epoch {at.epoch}: none of the {m.failed} {source} could be read; "
                         f"the run's last checkpoint is {run.out / 'last.pt'} (no best.pt from it)")
    if d.main and best:
        link_atomic(run.out / "last.pt", run.out / "best.pt")
    distributed.barrier(d)
    return record["train_loss"], metrics


def _evaluate(run: Run, dataset: VideoDataset) -> Metrics:
    """`evaluate` on `dataset` (its test views: eval.clips × eval.crops) at eval.batch_size, sharded over the processes."""
    return evaluate(run.model, dataset, run.classes, run.labels, batch_size=run.cfg.eval.batch_size, workers=run.cfg.data.workers,
                    d=run.d, dtype=run.dtype)


def save(run: Run, at: Counters, name: str, metrics: Metrics | None = None) -> None:
    """Checkpoint the run as `name` in its folder (written by rank 0; every process hands over its RNG states)."""
    rngs = distributed.gather(rng_state(), run.d)
    if not run.d.main:
        return
    state = TrainState(model=model_state(run.model), optimizer=run.optimizer.state_dict(), scheduler=run.scheduler.state_dict(),
                       scaler=run.scaler.state_dict(), counters=at.on_cpu(), rng=rngs, config=to_dict(run.cfg), labels=run.labels,
                       corpus=str(run.corpus.resolve()), metrics=metrics.summary() if metrics is not None else None)
    save_atomic(state.to_dict(), run.out / name)

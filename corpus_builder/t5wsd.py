"""Word-sense disambiguation with a T5 model fine-tuned to pick a description (Wahle et al. 2021).

The public checkpoint is ``PUBLIC_T5_MODEL``, ``jpwahle/t5-large-word-sense-disambiguation``
(T5-large trained on SemCor 3.0), which the CLI's help names. It reads a question that lists the
candidate descriptions and answers with the one it chooses, as text. The prompt follows the model
card:

    question: which description describes the word " W " best in the following context?
    descriptions: [ " d1 " , " d2 " , or " d3 " ] context: C

on one line, where W is the unit, d1..dn are the candidate descriptions (", or" before the last
one, as in the card's examples) and C is the action label followed by its other units in
parentheses, e.g. ``playing cricket (bat, ball)``. The context's ``extra`` text is not used.

Each candidate's score is the model's mean log-probability per token of answering with that
candidate's description (teacher forcing, end-of-sequence token included), plus ``ANSWER_BONUS``
for the candidate that the greedy answer maps to (see ``match_answer``). So the model's own answer
wins whenever it names a candidate, and the likelihood orders the rest (and decides when the answer
names none). Prompts are encoded once per item; generation and scoring run in batches.

The checkpoint ships its tokenizer as ``spiece.model`` only, which `transformers` 5 converts with
the ``sentencepiece`` (or ``protobuf``) package; a folder saved with ``save_pretrained`` carries a
``tokenizer.json`` and needs neither.
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Any, Iterator, Sequence, TypeVar

import torch

from .errors import CorpusError
from .expand import Candidate
from .wsd import Context, Item, WSDMethod

ANSWER_BONUS = 1.0
FUZZY_THRESHOLD = 0.5
_QUOTES = re.compile("[\"'`\u2018\u2019\u201c\u201d]")

T = TypeVar("T")


def t5_context(context: Context) -> str:
    """The context sentence: the action label, then its other units in parentheses."""
    if not context.siblings:
        return context.label
    return f"{context.label} ({', '.join(context.siblings)})"


def t5_prompt(unit: str, context: Context, candidates: list[Candidate]) -> str:
    """The model card's question for one unit (see the module docstring)."""
    quoted = [f'" {c.description} "' for c in candidates]
    if len(quoted) > 1:
        quoted[-1] = f"or {quoted[-1]}"
    return (
        f'question: which description describes the word " {unit} " best in the following context? '
        f"descriptions: [ {' , '.join(quoted)} ] context: {t5_context(context)}"
    )


def normalise(text: str) -> str:
    """Lower case, quotes removed, runs of white space collapsed."""
    return " ".join(_QUOTES.sub(" ", text.lower()).split())


def match_answer(answer: str, candidates: list[Candidate]) -> int | None:
    """The index of the candidate a generated answer names: an exact match after ``normalise``, else
    the closest description by ``difflib`` ratio if it reaches FUZZY_THRESHOLD, else None."""
    said = normalise(answer)
    texts = [normalise(c.description) for c in candidates]
    if said in texts:
        return texts.index(said)
    ratios = [difflib.SequenceMatcher(None, said, text).ratio() for text in texts]
    best = max(range(len(texts)), key=lambda i: (ratios[i], -i), default=None)
    return best if best is not None and ratios[best] >= FUZZY_THRESHOLD else None


def _encoded(hidden: torch.Tensor) -> Any:
    """Encoder states in the wrapper `generate` and `forward` accept instead of input ids."""
    from transformers.modeling_outputs import BaseModelOutput

    return BaseModelOutput(last_hidden_state=hidden)


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _missing_folder(model: str) -> str | None:
    """Why `model`, meant as a local folder, cannot be one; None when it is a folder or a hub name."""
    path = Path(model).expanduser()
    if path.is_dir():
        return None if (path / "config.json").is_file() else "no config.json in that folder"
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        return "no such folder"
    return None


def _load_error(model: str, reason: str) -> CorpusError:
    return CorpusError(f"cannot load the T5 model {model!r} ({reason}); pass --t5-model /path/to/a/local/model/folder")


@functools.lru_cache(maxsize=4)
def load_t5(model: str, device: str) -> tuple[Any, Any]:
    """(tokenizer, seq2seq model in eval mode on `device`) for a local folder or a hub name, loaded once."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    reason = _missing_folder(model)
    if reason:
        raise _load_error(model, reason)
    path = Path(model).expanduser()
    source = str(path) if path.is_dir() else model
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        net = AutoModelForSeq2SeqLM.from_pretrained(source)
    except (OSError, ValueError, ImportError) as exc:
        raise _load_error(model, (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]) from None
    return tokenizer, net.to(device).eval()


class T5Disambiguator(WSDMethod):
    """The `t5` method: scores candidates with a T5 WSD model, `batch_size` prompts at a time."""

    name = "t5"

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 16, max_new_tokens: int = 64):
        """`model`: a local model folder or a hub name such as PUBLIC_T5_MODEL (loaded once per device)."""
        self.source = model
        self.tokenizer, self.model = load_t5(model, device)
        self.device = device
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def scores(self, unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
        """One score per candidate, higher is better."""
        return self.scores_many([(unit, context, candidates)])[0]

    def scores_many(self, items: Sequence[Item]) -> list[list[float]]:
        """`scores` for many items, `batch_size` prompts (and candidate rows) at a time; an item
        without candidates gets no scores."""
        todo = [item for item in items if item[2]]
        scored = iter([scores for chunk in _chunks(todo, self.batch_size) for scores in self._score_chunk(chunk)])
        return [next(scored) if cands else [] for _, _, cands in items]

    def record(self) -> dict[str, object]:
        """The model as it was given (a folder or a hub name)."""
        return {"method": self.name, "model": self.source, "weights": None}

    @torch.inference_mode()
    def _score_chunk(self, chunk: list[Item]) -> list[list[float]]:
        """Encode the prompts once, generate the answers, score every candidate, add the bonus."""
        batch = self.tokenizer([t5_prompt(*item) for item in chunk], padding=True, return_tensors="pt").to(self.device)
        hidden = self.model.get_encoder()(**batch).last_hidden_state
        answers = self._generate(hidden, batch["attention_mask"])
        rows = [(i, c.description) for i, (_, _, cands) in enumerate(chunk) for c in cands]
        log_probs = iter(self._mean_log_probs(hidden, batch["attention_mask"], rows))
        scores = []
        for (_, _, cands), answer in zip(chunk, answers):
            item_scores = [next(log_probs) for _ in cands]
            chosen = match_answer(answer, cands)
            if chosen is not None:
                item_scores[chosen] += ANSWER_BONUS
            scores.append(item_scores)
        return scores

    def _generate(self, hidden: torch.Tensor, mask: torch.Tensor) -> list[str]:
        """Greedy answers, decoded without special tokens."""
        output = self.model.generate(
            encoder_outputs=_encoded(hidden),
            attention_mask=mask,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=1,
        )
        return self.tokenizer.batch_decode(output, skip_special_tokens=True)

    def _mean_log_probs(self, hidden: torch.Tensor, mask: torch.Tensor, rows: list[tuple[int, str]]) -> list[float]:
        """For each (prompt index, description): the mean log-probability of its tokens as the answer."""
        result: list[float] = []
        for part in _chunks(rows, self.batch_size):
            index = torch.tensor([i for i, _ in part], device=self.device)
            target = self.tokenizer([text for _, text in part], padding=True, return_tensors="pt").to(self.device)
            labels, keep = target["input_ids"], target["attention_mask"].bool()
            logits = self.model(
                encoder_outputs=_encoded(hidden[index]),
                attention_mask=mask[index],
                decoder_input_ids=self.model.prepare_decoder_input_ids_from_labels(labels=labels),
            ).logits
            token_lp = torch.log_softmax(logits.float(), dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
            result += ((token_lp * keep).sum(-1) / keep.sum(-1)).tolist()
        return result

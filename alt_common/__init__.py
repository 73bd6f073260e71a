"""The layer `corpus_builder` and `alt_model` share, importing neither: the error type and exit codes,
the console-script runner, label files, CLIP loading and text encoding, the corpus.pt bundle,
atomic writes and hashing, and the packaged resources."""

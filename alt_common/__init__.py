"""The layer `corpus_builder` and `alt_model` share: it imports neither of them."""

"""Installed as the package `alt_common.data`: the files under this folder travel in the wheel."""

"""Installed as the package `alt_common.prompts`: the prompt files beside this one travel in the wheel."""

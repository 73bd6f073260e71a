"""Installed as the package `alt_model.configs`: the YAML configs beside this one travel in the wheel
(`alt-train --config NAME`, `alt-train --list-configs`)."""

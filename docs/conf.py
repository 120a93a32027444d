"""Sphinx configuration for the airflow-provider-boomi documentation site."""

project = "airflow-provider-boomi"
author = "airflow-provider-boomi developers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
html_theme = "alabaster"

"""Sphinx configuration for the airflow-provider-boomi documentation site."""

from airflow_provider_boomi._rules import DEFAULT_REQUESTS_PER_SECOND, FALSE_WORDS, TRUE_WORDS

project = "airflow-provider-boomi"
author = "airflow-provider-boomi developers"
extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
html_theme = "alabaster"

# Values the docs quote from the code, so that a page cannot drift from the constant it names.
myst_enable_extensions = ["substitution"]
myst_substitutions = {
    "default_requests_per_second": f"{DEFAULT_REQUESTS_PER_SECOND:g}",
    "true_words": ", ".join(f"`{w}`" for w in sorted(TRUE_WORDS)),
    "false_words": ", ".join(f"`{w}`" for w in sorted(FALSE_WORDS)),
}

# API reference (api.md): rendered from the docstrings, which use reST fields (``:param x:``)
# only (tests/unit/test_docstring_style.py), so no napoleon.
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False

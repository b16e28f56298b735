"""Sphinx configuration of fastnet's documentation (build: tools/build_docs.sh)."""
import os
import sys

# The site documents the fastnet that Python imports: an installed one (pip install
# ".[docs]") or, with FASTNET_DOCS_INPLACE=1, the in-place build of this tree.
if os.environ.get("FASTNET_DOCS_INPLACE"):
    sys.path.insert(0, os.path.abspath(".."))

import fastnet  # noqa: E402

project = "fastnet"
author = "the fastnet authors"
copyright = "fastnet authors, BSD-3-Clause"
version = release = fastnet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "gallery/GALLERY_HEADER.rst", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
default_role = "code"   # `x` in docstrings is code, as the docstrings mean it
# every cross-reference must resolve: a broken one fails the build
nitpicky = True
# ... except these, written in fastnet/bench's docstrings as references to module data
# that autodoc does not document (no doc comments) or to names of another module
# (reported for fastnet/bench: make them ``code`` or document the data)
nitpick_ignore = [
    ("py:data", "CONFIGS"), ("py:data", "AGREE_TOL"), ("py:data", "DATASETS"),
    ("py:data", "COMMAND"), ("py:func", "blas_info"), ("py:mod", "fastnet.bench.configs"),
]

# -- autodoc / autosummary / numpydoc --------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True}
autodoc_member_order = "bysource"
# "fit()" rather than "MLPClassifier.fit()" in the page contents, which is narrow
toc_object_entries_show_parents = "hide"
autodoc_typehints = "none"          # numpydoc's Parameters section says the types
numpydoc_show_class_members = False  # autodoc's :members: lists them once
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- sphinx-gallery: the theory pages, executed at every build ------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["gallery"],
    "gallery_dirs": ["theory"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "show_memory": False,
    "write_computation_times": False,   # no generated timing pages in the tree
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "capture_repr": ("_repr_html_",),
    "reference_url": {"fastnet": None},
    "backreferences_dir": None,
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastnet {release}"
html_static_path = ["_static"]
html_css_files = ["fastnet.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    # the theory pages' code and output need the width more than a short contents list
    "secondary_sidebar_items": {"getting_started": ["page-toc"], "guide/*": ["page-toc"],
                                "api/*": ["page-toc"], "changelog": ["page-toc"],
                                "theory/*": []},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "changelog": []}

myst_heading_anchors = 3

# MathJax comes from a CDN; for reading the site offline, FASTNET_DOCS_MATHJAX names a
# local MathJax.js instead (Debian's libjs-mathjax: file:///usr/share/javascript/
# mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML).
if os.environ.get("FASTNET_DOCS_MATHJAX"):
    mathjax_path = os.environ["FASTNET_DOCS_MATHJAX"]


# -- docstring adjustments, each scoped to the objects named -----------------------------
import re  # noqa: E402

# scikit-learn's fitted-attribute names end in "_", which reStructuredText reads as a
# link target (``coefs_`` -> "Unknown target name"). In fastnet.sklearn's docstrings
# a bare name_ is shown as code, as scikit-learn's own documentation shows it.
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`*:<./-])([A-Za-z]\w*_)(?![\w`*(])")


def _sklearn_attribute_names(app, what, name, obj, options, lines):
    if not name.startswith("fastnet.sklearn"):
        return
    for i, line in enumerate(lines):
        if not line.lstrip().startswith(".. "):
            lines[i] = _TRAILING_UNDERSCORE.sub(r"``\1``", line)


# fastnet.export.export_c's docstring continues after its Returns section without a
# section header, so numpydoc folds the C API listing into Returns (and its
# ``*x`` into emphasis). Give that text the Notes header it means to have, until the
# docstring gets one (reported for fastnet/export.py).
def _export_c_notes(app, what, name, obj, options, lines):
    if name != "fastnet.export.export_c" or "Notes" in lines:
        return
    for i, line in enumerate(lines):
        if line.startswith("The C API"):
            lines[i:i] = ["Notes", "-----"]
            return


# The scikit-learn estimators inherit get_params, set_params, score and the metadata
# routing methods from scikit-learn; those are scikit-learn's own (documented there)
# and their docstrings cross-reference scikit-learn's site. Only fastnet's own members
# are listed.
def _skip_sklearn_inherited(app, what, name, obj, skip, options):
    if (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        return True
    return None


# The model guide's tables of activations, heads and optimizers are written from the
# registries at every build, so a component added to fastnet/components.py is listed
# without editing the guide.
def _component_tables():
    from fastnet.components import ACTIVATIONS, HEADS, OPTIMIZERS

    rows = ["| activation | formula and derivative | initialisation | layer class |",
            "|---|---|---|---|"]
    rows += [f"| `{a.name}` | `{a.formula}` | {a.init.replace('_', '-')} | `{a.layer}` |"
             for a in ACTIVATIONS.values()]
    rows += ["", "| output | outputs, loss and its gradient | y | score | loss layer |",
             "|---|---|---|---|---|"]
    rows += [f"| `{h.name}` | `{h.formula}` | {h.truth} | {h.metric} | `{h.layer}` |"
             for h in HEADS.values()]
    rows += ["", "| optimizer | hyper-parameters | state buffers |", "|---|---|---|"]
    rows += [f"| `{o.name}` | {', '.join(f'`{p}`' for p in o.hyperparameters)} | "
             f"{', '.join(f'`{b}`' for b in o.state)} |" for o in OPTIMIZERS.values()]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_generated")
    os.makedirs(path, exist_ok=True)
    text = "\n".join(rows) + "\n"
    target = os.path.join(path, "components.md")
    # rewritten only when it changes, so an incremental build does not reread it
    if not os.path.exists(target) or open(target).read() != text:
        with open(target, "w") as f:
            f.write(text)


_component_tables()


def setup(app):
    # before numpydoc (priority 500) reads the sections
    app.connect("autodoc-process-docstring", _export_c_notes, priority=400)
    app.connect("autodoc-process-docstring", _sklearn_attribute_names, priority=600)
    app.connect("autodoc-skip-member", _skip_sklearn_inherited)

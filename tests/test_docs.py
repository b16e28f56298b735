"""The API reference (docs/api/) covers every public name.

Sphinx's autodoc lists what the docs/api pages point it at, and only members that have
a docstring: a new public module that no page names, or a public function or method
without a docstring, would be missing from the site without any build warning. These
checks read the pages' sources and the package; they do not run Sphinx
(tools/build_docs.sh builds the site).
"""
import importlib
import inspect
import os
import pkgutil
import re

import pytest

import fastnet

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API = os.path.join(REPO, "docs", "api")

# Public modules documented through other names, not an automodule directive of their own
DOCUMENTED_ELSEWHERE = {
    "fastnet.network": "fastnet.MLP and fastnet.load (docs/api/network.rst)",
    "fastnet.reference.network": "fastnet.reference.MLP and fastnet.reference.load",
}
# Subpackages whose submodules are documented through the package's __all__
DOCUMENTED_BY_PACKAGE = ("fastnet.bench",)


def api_sources():
    if not os.path.isdir(API):
        pytest.skip("docs/api is not in this tree (an installed fastnet without its sources)")
    text = ""
    for name in sorted(os.listdir(API)):
        if name.endswith(".rst"):
            with open(os.path.join(API, name), encoding="utf-8") as f:
                text += f.read() + "\n"
    return text


def directives(kind):
    """Targets of `.. kind:: target` in the API pages."""
    return set(re.findall(rf"^\.\. {kind}:: (\S+)", api_sources(), flags=re.M))


def public_modules():
    """Dotted names of fastnet's public modules, found in the package's folders."""
    names = []
    for info in pkgutil.walk_packages(fastnet.__path__, "fastnet."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts):
            continue
        if any(info.name.startswith(pkg + ".") for pkg in DOCUMENTED_BY_PACKAGE):
            continue
        names.append(info.name)
    return names


def test_every_public_module_has_an_api_page():
    modules = public_modules()
    assert "fastnet.theory" in modules and "fastnet.reference.kernels" in modules
    documented = directives("automodule")
    missing = [m for m in modules if m not in documented and m not in DOCUMENTED_ELSEWHERE]
    assert not missing, (f"public modules without an automodule directive in docs/api: "
                         f"{missing}")


@pytest.mark.parametrize("package", ["fastnet", "fastnet.reference"])
def test_every_name_in_all_is_documented(package):
    module = importlib.import_module(package)
    documented = (directives("autoclass") | directives("autofunction")
                  | directives("automodule"))
    missing = [f"{package}.{name}" for name in module.__all__
               if name != "__version__" and f"{package}.{name}" not in documented]
    assert not missing, f"names in {package}.__all__ missing from docs/api: {missing}"


def own_public_members(owner, module_name):
    """Public functions and classes a module defines (or its __all__ lists), or the
    public methods and properties a fastnet class defines or inherits from fastnet."""
    if inspect.ismodule(owner):
        if hasattr(owner, "__all__"):
            found = {n: getattr(owner, n) for n in owner.__all__}
        else:
            found = {n: v for n, v in vars(owner).items() if not n.startswith("_")
                     and getattr(v, "__module__", None) == module_name}
        # data (registries, constants) is documented by the module's docstring
        return {n: v for n, v in found.items() if inspect.isfunction(v) or inspect.isclass(v)}
    if not inspect.isclass(owner):
        return {}
    members = {}
    for klass in reversed(owner.__mro__):
        if not klass.__module__.startswith("fastnet"):
            continue
        for n, v in vars(klass).items():
            if not n.startswith("_") and (callable(v) or isinstance(v, property)):
                members[n] = v
    return members


OPTIONAL = ("scikit-learn", "sklearn", "matplotlib")


def test_documented_names_have_docstrings():
    """autodoc's :members: skips names without a docstring: every public function,
    class, method and property the API pages cover must have one."""
    undocumented = []
    targets = sorted([(t, "") for t in directives("automodule")]
                     + [tuple(t.rsplit(".", 1)) for t in directives("autoclass")
                        | directives("autofunction")])
    for module_name, attr in targets:
        target = f"{module_name}.{attr}" if attr else module_name
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:            # an optional dependency (scikit-learn)
            if any(dep in str(exc) for dep in OPTIONAL):
                continue
            raise
        obj = getattr(module, attr) if attr else module
        members = own_public_members(obj, module_name)
        if not inspect.ismodule(obj) and not inspect.getdoc(obj):
            undocumented.append(target)
        for name, value in members.items():
            doc = inspect.getdoc(value.fget if isinstance(value, property) else value)
            if not doc:
                undocumented.append(f"{target}.{name}")
            if inspect.isclass(value) and inspect.ismodule(obj):
                undocumented += [f"{target}.{name}.{m}" for m, v in
                                 own_public_members(value, module_name).items()
                                 if not inspect.getdoc(v.fget if isinstance(v, property)
                                                       else v)]
    assert not undocumented, f"public names without a docstring: {undocumented}"

"""Export a trained network as dependency-free C source, for inference where Python is
not available: weights as static arrays, one forward function, C99 and libm only."""
import os
import re

import numpy as np

from fastnet.components import ACTIVATIONS, HEADS

HEADER_DIR = os.path.dirname(os.path.abspath(__file__))


def components_source():
    """The text of _components.h with _components_impl.h spliced in where it is
    included: the per-element math of every component, as the compiled kernels use
    it, for the generated file (which must stand alone)."""
    with open(os.path.join(HEADER_DIR, "_components_impl.h")) as f:
        impl = f.read()
    with open(os.path.join(HEADER_DIR, "_components.h")) as f:
        header = f.read()
    return header.replace('#include "_components_impl.h"', impl)


def _literal(value, dtype):
    """Shortest text that reads back as exactly this value in C."""
    if dtype == np.float32:
        text = repr(float(np.float32(value)))
        if np.float32(float(text)) != np.float32(value):  # pragma: no cover - paranoia
            text = f"{float(value):.9g}"
        return text + "f"
    return repr(float(value))


def _array(name, values, dtype):
    items = [_literal(v, dtype) for v in np.asarray(values).ravel()]
    lines = [", ".join(items[i:i + 6]) for i in range(0, len(items), 6)]
    return f"static const REAL {name}[{len(items)}] = {{\n    " + ",\n    ".join(lines) + "\n};\n"


def export_c(net, path, name=None):
    """Write ``path`` (C source) and the header beside it (same name, ``.h``).

    Parameters
    ----------
    net : fastnet.MLP or fastnet.reference.MLP
    path : str or path-like
        The .c file to write; the header goes to the same path with suffix .h.
    name : str, optional
        Prefix of the C identifiers (a C identifier); default: the file's stem.

    Returns
    -------
    (c_path, h_path)

    The C API, for ``name = "model"``::

        #define MODEL_N_INPUTS d
        #define MODEL_N_OUTPUTS k
        #define MODEL_WORKSPACE_SIZE w     /* reals of scratch for model_forward_ws */
        typedef float model_real;          /* or double, the model's dtype */
        int model_forward(const model_real *x, model_real *out);
        int model_forward_ws(const model_real *x, model_real *out, model_real *workspace);

    ``model_forward`` writes the k outputs for one input row x (probabilities for a
    softmax network) and returns the predicted class (softmax) or 0 (other heads), or -1
    if the model uses a component the copied C math does not implement. The class is
    ``predict``'s: the first index of the largest probability (as ``np.argmax`` of the
    outputs after the softmax, so near-tied logits whose probabilities round equal give
    the lower index); a logistic network's indicators are ``out[j] > 0.5``, as in
    ``predict``. The activations and the output transform are those of
    fastnet/_components.h, the source the compiled kernels use, copied into the
    generated file.

    Hidden activations live in a static buffer (never on the stack, so any width
    Python runs also runs in C): ``model_forward`` is therefore not reentrant nor
    thread-safe. ``model_forward_ws`` is the same computation in a caller-provided
    workspace of ``MODEL_WORKSPACE_SIZE`` reals; it touches nothing else that is
    writable, so threads with their own workspaces may call it at once.

    Raises ValueError for a name that is not a C identifier, a ``path`` whose header
    would be the same file (a ``.h`` path: pass the ``.c`` one), and parameters holding
    NaN or infinity (as ``save`` does), before anything is written.
    """
    path = os.fspath(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if name is None else name
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise ValueError(f"name must be a C identifier, got {name!r}; pass name=...")
    if name.lower().startswith("fnet_"):
        raise ValueError(f"name {name!r} starts with fnet_, the prefix of fastnet's own C "
                         f"functions in the generated file; pass another name=...")
    h_path = os.path.splitext(path)[0] + ".h"
    if (os.path.splitext(path)[1].lower() == ".h"
            or os.path.realpath(h_path) == os.path.realpath(path)
            or (os.path.exists(h_path) and os.path.exists(path)
                and os.path.samefile(h_path, path))):
        raise ValueError(f"path {path!r} would be overwritten by its own header (the "
                         f"header goes beside the source, with suffix .h); pass the .c "
                         f"path, e.g. {os.path.splitext(path)[0] + '.c'!r}")
    if not all(np.isfinite(p).all() for p in list(net.weights) + list(net.biases)):
        raise ValueError("the model's parameters hold NaN or infinity; there is nothing "
                         "meaningful to export (save refuses them too)")
    dtype = net.dtype.type
    real = "float" if dtype == np.float32 else "double"
    sizes, acts = net.layer_sizes, net.activation
    upper = name.upper()

    hidden = sizes[1:-1]
    n_buffers = min(len(hidden), 2)        # hidden activations alternate between two
    width = max(hidden, default=0)
    ws_size = max(n_buffers * width, 1)    # >= 1: a valid array length for callers
    head = HEADS[net.output]
    if head.truth == "labels":
        returns = ("class probabilities; returns the predicted class, as predict: the\n"
                   " * first index of the largest probability (after the softmax, so near-tied\n"
                   " * logits whose probabilities round equal give the lower index)")
    elif head.truth == "indicators":
        returns = ("probabilities; returns 0. predict's indicators are out[j] > 0.5\n"
                   " * (a probability that rounds to 0.5 is 0), not the logit's sign")
    else:
        returns = "the outputs; returns 0"
    header = f"""/* {os.path.basename(h_path)}: generated by fastnet {_version()} from a
 * {'-'.join(map(str, sizes))} network ({', '.join(acts) or 'no hidden layer'}, {net.output} output, {real}).
 * Dependency-free: compile {os.path.basename(path)} with any C99 compiler and link libm. */
#ifndef {upper}_FASTNET_MODEL_H
#define {upper}_FASTNET_MODEL_H

#define {upper}_N_INPUTS {sizes[0]}
#define {upper}_N_OUTPUTS {sizes[-1]}
/* Scratch reals {name}_forward_ws needs (the hidden activations). */
#define {upper}_WORKSPACE_SIZE {ws_size}

typedef {real} {name}_real;

/* out ({sizes[-1]}) = the network's outputs for one input row x ({sizes[0]}):
 * {returns} (-1: a component this source does not implement).
 * Uses a static workspace (never the stack, whatever the width): NOT reentrant and
 * NOT thread-safe; use {name}_forward_ws from more than one thread. */
int {name}_forward(const {name}_real *x, {name}_real *out);

/* The same, in the caller's workspace of {upper}_WORKSPACE_SIZE reals (which it
 * overwrites); writes nothing else but out: reentrant and thread-safe when each
 * thread passes its own workspace. */
int {name}_forward_ws(const {name}_real *x, {name}_real *out, {name}_real *workspace);

#endif
"""
    sfx = "_f32" if dtype == np.float32 else "_f64"
    body = [f"/* {os.path.basename(path)}: generated by fastnet {_version()}; see "
            f"{os.path.basename(h_path)}. */",
            f'#include "{os.path.basename(h_path)}"', "",
            "/* fastnet's per-element math (fastnet/_components.h), as the library's "
            "compiled kernels use it. */",
            components_source(), "",
            f"typedef {name}_real REAL;", ""]
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        body.append(f"/* layer {l}: W is ({W.shape[0]}, {W.shape[1]}), row-major; b is ({b.shape[0]}) */")
        body.append(_array(f"W{l}", W, dtype))
        body.append(_array(f"b{l}", b, dtype))
    code = [f"int {name}_forward_ws(const REAL *x, REAL *out, REAL *workspace)", "{",
            "    const REAL *in = x;",
            "    fnet_size i, j, best = 0;"]
    if not hidden:
        code.append("    (void)workspace;   /* no hidden layer: nothing to keep */")
    for l in range(len(sizes) - 1):
        d, h = sizes[l], sizes[l + 1]
        last = l == len(sizes) - 2
        dst = "out" if last else f"(workspace + {(l % 2) * width})"
        code += [f"    for (j = 0; j < {h}; j++) {{",
                 "        REAL z = 0;",
                 f"        for (i = 0; i < {d}; i++)",
                 f"            z += W{l}[j * {d} + i] * in[i];",
                 f"        {dst}[j] = z + b{l}[j];",
                 "    }"]
        if last:
            code.append(f"    if (fnet_head_output_row{sfx}({head.code}, out, {h}) != 0)  "
                        f"/* {head.name} */")
        else:
            code += [f"    if (fnet_activation_forward{sfx}({ACTIVATIONS[acts[l]].code}, {dst}, "
                     f"{h}) != 0)  /* {acts[l]} */"]
        code.append("        return -1;   /* a component this source does not implement */")
        if not last:
            code.append(f"    in = {dst};")
    if head.truth == "labels":
        # predict's choice: np.argmax of the probabilities, i.e. the first largest
        # (a NaN counts as the largest, as in NumPy), over the same rounded outputs.
        code += ["    for (j = 1; j < " + str(sizes[-1]) + " && out[best] == out[best]; j++)",
                 "        if (!(out[j] <= out[best]))   /* larger, or NaN */",
                 "            best = j;"]
    else:
        code.append("    (void)best;")
    code += ["    return (int)best;", "}", "",
             "/* Static: never the stack, so any width runs; not reentrant. */",
             f"static REAL {name}_static_workspace[{ws_size}];", "",
             f"int {name}_forward(const REAL *x, REAL *out)", "{",
             f"    return {name}_forward_ws(x, out, {name}_static_workspace);", "}", ""]
    with open(h_path, "w") as fh:
        fh.write(header)
    with open(path, "w") as fc:
        fc.write("\n".join(body + code))
    return path, h_path


def _version():
    import fastnet
    return fastnet.__version__

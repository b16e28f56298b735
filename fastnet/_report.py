"""Plain-text tables for the command line (demo, experiments)."""


def text_table(header, rows, left=1):
    """Columns padded to their widest cell; the first `left` columns left-aligned,
    the rest right-aligned (numbers). Cells are converted with str()."""
    table = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for i, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) if j < left else cell.rjust(w)
                               for j, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)

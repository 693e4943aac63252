"""PNG plots for the soak and the benchmark (matplotlib, no display)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def lines(path, title, xlabel, ylabel, series, logx=False, logy=False,
          notes=None):
    """series: {label: ([x...], [y...])}; saved as a PNG at path."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    return _save(fig, ax, path, notes)


def bars(path, title, ylabel, groups, notes=None):
    """groups: {group: {label: value}}; grouped bars, saved at path."""
    labels = sorted({lb for g in groups.values() for lb in g})
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    width = 0.8 / max(1, len(labels))
    for i, lb in enumerate(labels):
        xs = [j + i * width for j in range(len(groups))]
        ax.bar(xs, [g.get(lb, 0) for g in groups.values()], width, label=lb)
    ax.set_xticks([j + width * (len(labels) - 1) / 2
                   for j in range(len(groups))])
    ax.set_xticklabels(list(groups))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, ax, path, notes)


def stacked(path, title, ylabel, bars, notes=None):
    """bars: {bar: {segment: value}}, the segments in the order given
    (the first at the bottom); horizontal stacked bars, saved at path."""
    segments = list(dict.fromkeys(sg for b in bars.values() for sg in b))
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.8 * len(bars)), dpi=100)
    left = [0.0] * len(bars)
    for sg in segments:
        vals = [b.get(sg, 0.0) for b in bars.values()]
        ax.barh(list(bars), vals, left=left, label=sg)
        left = [a + v for a, v in zip(left, vals)]
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(ylabel)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, ax, path, notes)


def _save(fig, ax, path, notes):
    """Legend, notes in the corner, PNG at path; returns path."""
    ax.legend()
    if notes:
        fig.text(0.01, 0.01, notes, fontsize=7, alpha=0.7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

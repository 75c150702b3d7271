#!/usr/bin/python3
"""Draws a qbench --compare run: qbench writes its data as JSON and runs this script.

    plot.py DATA.json OUT.png|OUT.svg   draw the figure
    plot.py --check                     exit 0 when matplotlib imports, 3 when it does not

One figure, two rows. Top: throughput per scenario per target as grouped bars, relative to
direct (the backend alone) so that every scenario shares one axis although their rates differ
by orders of magnitude; the absolute median is written on each bar; the whiskers span the
rounds' min-max. Bottom: one latency CDF per scenario, a line per target, from qbench's
histograms merged over the rounds; log x in microseconds, logit y so that p50 and the tail
(p99, p99.9) both get room. A target keeps its colour in every panel and every run.

Exit codes: 0 drawn, 2 bad arguments or data, 3 matplotlib missing (the message says how to
install it). Nothing goes to stdout: qbench's stdout may be its JSON report.
"""
import json
import math
import statistics
import sys

# Fixed colours, so that qgate is the same blue in every plot anyone has looked at before.
# Request mode is purple (its before build light purple), G6's 4-backend qgate red.
COLOURS = {
    'direct': '#7f7f7f', 'qgate': '#1f77b4', 'qgate-base': '#9ecae1',
    'haproxy': '#ff7f0e', 'qgate-epoll': '#2ca02c',
    'qgate-req': '#9467bd', 'qgate-base-req': '#c5b0d5', 'qgate-req4': '#d62728',
}
SPARE = ['#8c564b', '#e377c2', '#17becf', '#bcbd22']
# Percentile ticks of the CDFs' logit axis, with their labels.
QUANTILES = [(0.01, 'p1'), (0.1, 'p10'), (0.5, 'p50'), (0.9, 'p90'), (0.99, 'p99'),
             (0.999, 'p99.9'), (0.9999, 'p99.99'), (0.99999, 'p99.999')]


def fail(code, message):
    print(f'qbench plot: {message}', file=sys.stderr)
    sys.exit(code)


def import_pyplot():
    try:
        import matplotlib
    except ImportError as e:
        fail(3, f'matplotlib is not installed for {sys.executable} ({e}); on Debian: '
                'apt-get install python3-matplotlib (tools/lib/setup.sh installs it), or set '
                'QBENCH_PYTHON to a python3 that has matplotlib')
    matplotlib.use('Agg')  # files only: no display needed
    matplotlib.rcParams['svg.fonttype'] = 'none'  # SVG text stays text: searchable, small
    import matplotlib.pyplot as plt
    return plt


def colour_of(name, names):
    return COLOURS.get(name) or SPARE[names.index(name) % len(SPARE)]


def all_targets(data):
    """Target names in the order the scenarios list them (qgate-base right after qgate)."""
    names = []
    for s in data['scenarios']:
        names += [t['name'] for t in s['targets'] if t['name'] not in names]
    return names


def throughput(scenario, target):
    """(median, min, max) over the rounds that ran: MB/s for the 1 MiB scenario, else rt/s."""
    field = 'bytes_per_s' if scenario['size'] >= 65536 else 'rt_per_s'
    runs = [x for x in target[field] if x is not None and x > 0]
    return (statistics.median(runs), min(runs), max(runs)) if runs else None


def absolute_text(scenario, value):
    if scenario['size'] >= 65536:
        return f'{value / 1e6:.0f} MB/s' if value < 1e10 else f'{value / 1e9:.1f} GB/s'
    return f'{value / 1e3:.1f}k rt/s' if value >= 1e3 else f'{value:.0f} rt/s'


def draw_bars(ax, data, names):
    """Grouped bars, one group per scenario, heights relative to direct's median."""
    width = 0.8 / max(len(s['targets']) for s in data['scenarios'])
    top = 1.0
    for g, s in enumerate(data['scenarios']):
        stats = {t['name']: throughput(s, t) for t in s['targets']}
        base = stats.get('direct') or max((v for v in stats.values() if v), default=None)
        for k, t in enumerate(s['targets']):
            x = g + (k - (len(s['targets']) - 1) / 2) * width
            v = stats[t['name']]
            if not v or not base:
                ax.text(x, 0.02, 'failed', rotation=90, ha='center', va='bottom', fontsize=7)
                continue
            med, lo, hi = (y / base[0] for y in v)
            err = [[med - lo], [hi - med]] if data['rounds'] > 1 else None
            ax.bar(x, med, width * 0.92, color=colour_of(t['name'], names), yerr=err,
                   capsize=2, error_kw={'elinewidth': 0.8})
            ax.text(x, hi + 0.02, absolute_text(s, v[0]), rotation=90, ha='center',
                    va='bottom', fontsize=7)
            top = max(top, hi)
    ax.axhline(1.0, color='#7f7f7f', linewidth=0.8, linestyle='--')
    ax.set_ylim(0, top * 1.3)
    ax.set_xticks(range(len(data['scenarios'])))
    ax.set_xticklabels([f"{s['id']}\n{s['label']}" for s in data['scenarios']], fontsize=9)
    ax.set_ylabel('throughput / direct\n(1 MiB: bytes/s, else rt/s)', fontsize=9)
    whiskers = f", min-max whiskers" if data['rounds'] > 1 else ''
    rounds = f"median of {data['rounds']} rounds" if data['rounds'] > 1 else '1 round'
    ax.set_title(f"throughput / direct: {rounds}{whiskers}, "
                 'absolute value on the bar', fontsize=10, loc='left')
    # Above the axes, right of the title: no bar or label can run into it there.
    handles = [ax.bar(0, 0, color=colour_of(n, names), label=n) for n in names]
    ax.legend(handles=handles, loc='lower right', bbox_to_anchor=(1.0, 1.0), ncol=len(names),
              fontsize=9, frameon=False, borderaxespad=0.2)
    ax.grid(axis='y', alpha=0.3)


def cdf(hist):
    """(x in us, fraction <= x) at each non-empty bucket's upper edge."""
    total = hist['count']
    xs, ys, seen = [], [], 0
    for upper_ns, n in hist['buckets']:
        seen += n
        xs.append(upper_ns / 1e3)
        ys.append(seen / total)
    return xs, ys


def x_subs(ax):
    """Log ticks dense enough that a narrow latency range still gets labels, sparse enough
    that a wide one does not overlap: 1-2-5 within 1.5 decades, 1-3 within 3, else 1."""
    lo, hi = ax.get_xlim()
    decades = math.log10(hi / lo) if lo > 0 else 9
    return (1.0, 2.0, 5.0) if decades < 1.5 else (1.0, 3.0) if decades < 3 else (1.0,)


def micros(v, _):
    return f'{v / 1e3:g}k' if v >= 1e3 else f'{v:g}'


def draw_cdf(ax, scenario, names, top, show_ylabels):
    import matplotlib.ticker as ticker
    for t in scenario['targets']:
        hist = t['latency_ns']
        if hist['count'] == 0:
            continue
        xs, ys = cdf(hist)
        # The last buckets sit at 1.0, infinitely far up a logit axis: pin them to its top.
        ys = [min(y, top) for y in ys]
        ax.step(xs, ys, where='post', color=colour_of(t['name'], names), linewidth=1.3,
                label=t['name'])
    ax.set_xscale('log')
    ax.set_yscale('logit')
    ax.set_ylim(0.01, top)
    ticks = [(q, label) for q, label in QUANTILES if q <= top]
    # The panels share one y axis, so its ticks are set on each but labelled on the first.
    ax.yaxis.set_major_locator(ticker.FixedLocator([q for q, _ in ticks]))
    ax.yaxis.set_major_formatter(ticker.FixedFormatter([label for _, label in ticks]))
    ax.yaxis.set_minor_locator(ticker.NullLocator())
    ax.tick_params(axis='y', labelleft=show_ylabels)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=x_subs(ax)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(micros))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.tick_params(labelsize=8)
    ax.grid(True, which='major', alpha=0.3)
    ax.set_title(f"{scenario['id']}  {scenario['label']}", fontsize=9)
    ax.set_xlabel('latency (µs)', fontsize=8)


def cdf_top(data):
    """The highest percentile the data can show: 1 - 1/samples, at most p99.999."""
    most = max((t['latency_ns']['count'] for s in data['scenarios'] for t in s['targets']),
               default=0)
    return min(0.99999, 1 - 1 / most) if most > 1 else 0.99


def mode_text(mode):
    if mode == 'both':
        return 'qgate session mode, qgate-req request mode'
    return f'qgate {mode} mode'


def draw(data, out):
    plt = import_pyplot()
    scenarios = data['scenarios']
    if not scenarios:
        fail(2, 'no scenario ran: nothing to draw')
    names = all_targets(data)
    n = len(scenarios)
    fig = plt.figure(figsize=(max(11.0, 3.4 * n), 9.5), constrained_layout=True)
    grid = fig.add_gridspec(2, n, height_ratios=[1.15, 1])
    draw_bars(fig.add_subplot(grid[0, :]), data, names)
    top = cdf_top(data)
    first = None
    for i, s in enumerate(scenarios):
        ax = fig.add_subplot(grid[1, i], sharey=first)
        first = first or ax
        draw_cdf(ax, s, names, top, show_ylabels=(i == 0))
    first.set_ylabel('latency CDF (percentile)', fontsize=9)
    fig.suptitle(f"qbench --compare  {data['date']}  ·  {data['rounds']} rounds × "
                 f"{data['seconds']:g} s  ·  {mode_text(data['mode'])}  ·  {data['machine']}\n"
                 f"{data['command']}", fontsize=9)
    fig.savefig(out, dpi=110, metadata={'Date': None} if out.endswith('.svg') else None)


def main(argv):
    if argv[1:] == ['--check']:
        import_pyplot()
        return 0
    if len(argv) != 3 or not argv[2].endswith(('.png', '.svg')):
        fail(2, 'usage: plot.py DATA.json OUT.png|OUT.svg, or plot.py --check')
    try:
        with open(argv[1], encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        fail(2, f'cannot read {argv[1]}: {e}')
    try:
        draw(data, argv[2])
    except OSError as e:
        fail(2, f'cannot write {argv[2]}: {e}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

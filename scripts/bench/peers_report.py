"""Turn `scripts/bench-store.sh --ingest/--jaeger/--peers` results into Markdown tables and a plot.

    python scripts/bench/peers_report.py target/bench/peers/results.jsonl [docs/benchmarks-peers.svg]

Reads the JSON lines the script wrote (one per measurement), prints the tables
(the store beside the decode-only sink, the store beside Jaeger) and, given a
path, draws the plot: ingest rate, resident bytes per stored span, and query
latency, side by side. Needs matplotlib (scripts/python-env.sh --bench).
"""

import json
import sys

LABELS = {"store": "tracelab store", "sink": "Python decode-only sink", "jaeger": "Jaeger v2 (memory)"}
TICKS = {"store": "tracelab\nstore", "sink": "Python\ndecode-only sink", "jaeger": "Jaeger v2\n(memory)"}
COLORS = {"store": "#b7410e", "sink": "#3572a5", "jaeger": "#60b0a0"}


def load(path):
    meta, rate, loaded = {}, {}, {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r["kind"] == "meta":
                meta = r
            elif r["kind"] == "rate":
                rate[r["target"]] = r
            elif r["kind"] == "load":
                loaded[r["target"]] = r
    return meta, rate, loaded


def spans_per_s(r, body_spans):
    w = r["wrk"]
    return w["ok"] * body_spans / w["seconds"]


def per_span(r):
    held = r.get("held_spans") or 0
    return (r["rss_after"] - r["rss_before"]) / held if held else float("nan")


def mib(b):
    return f"{b / 1048576:,.1f} MiB"


def rss_cell(r):
    return f"{per_span(r):,.0f} bytes ({r['held_spans']:,} spans; RSS {mib(r['rss_before'])} → {mib(r['rss_after'])})"


def lat(w):
    return f"p50 {w['p50_ms']:.2f} ms · p99 {w['p99_ms']:.2f} ms"


def tables(meta, rate, loaded):
    bs = meta["body_spans"]
    out = [
        f"Commit {meta['commit']}; {meta['bodies']:,} bodies of {bs} spans ({meta['spans']:,} distinct spans), "
        f"`wrk -t2 -c8 -d{meta['duration_s']}s` (wrk {meta['wrk']}), one run; load average at the start "
        f"{meta.get('loadavg', '?')} ({meta.get('cpus', '?')} CPUs). Ratios: rates store ÷ peer, "
        "latency and bytes peer ÷ store, so above 1 favours the store.",
        "",
    ]
    if "store" in rate and "sink" in rate:
        st, sk = rate["store"], rate["sink"]
        s_rate, k_rate = spans_per_s(st, bs), spans_per_s(sk, bs)
        out += [
            "| ingest at the decode limit | store | Python decode-only sink | ratio |",
            "|---|---|---|---|",
            f"| spans/s (2xx answers × {bs} ÷ run time) | {s_rate:,.0f} | {k_rate:,.0f} | **{s_rate / k_rate:.2f}×** (store ÷ sink) |",
            f"| requests answered 2xx / non-2xx | {st['wrk']['ok']:,} / {st['wrk']['non2xx']} | "
            f"{sk['wrk']['ok']:,} / {sk['wrk']['non2xx']} | |",
            f"| latency (wrk) | {lat(st['wrk'])} | {lat(sk['wrk'])} | p99 {sk['wrk']['p99_ms'] / st['wrk']['p99_ms']:.2f}× (sink ÷ store) |",
            f"| resident bytes per stored span after the run | {rss_cell(st)} | stores nothing (RSS {mib(sk['rss_before'])} → "
            f"{mib(sk['rss_after'])}) | |",
            f"| spans the receiver counted | {st['held_spans']:,} held (bound {meta['spans']:,}) | "
            f"{sk['sink']['spans']:,} decoded | |",
            "",
        ]
    if "store" in rate and "jaeger" in rate:
        st, jg = rate["store"], rate["jaeger"]
        s_rate, j_rate = spans_per_s(st, bs), spans_per_s(jg, bs)
        out += [
            "| store beside Jaeger | store | Jaeger v2 (memory) | ratio |",
            "|---|---|---|---|",
            f"| ingest, spans/s (wrk, cycling through the bodies) | {s_rate:,.0f} | {j_rate:,.0f} | **{s_rate / j_rate:.2f}×** (store ÷ Jaeger) |",
            f"| ingest latency (wrk) | {lat(st['wrk'])} | {lat(jg['wrk'])} | p99 {jg['wrk']['p99_ms'] / st['wrk']['p99_ms']:.2f}× (Jaeger ÷ store) |",
            f"| resident bytes per held span after that run | {rss_cell(st)} | {rss_cell(jg)} | "
            f"{per_span(jg) / per_span(st):.2f}× (Jaeger ÷ store) |",
        ]
        if "store" in loaded and "jaeger" in loaded:
            ls, lj = loaded["store"], loaded["jaeger"]
            n_id, n_s = ls["by_id"]["n"], ls["search"]["n"]
            out += [
                f"| one pass (every body once, 8 connections), spans/s | {meta['spans'] / ls['load']['seconds']:,.0f} | "
                f"{meta['spans'] / lj['load']['seconds']:,.0f} | {lj['load']['seconds'] / ls['load']['seconds']:.2f}× (store ÷ Jaeger) |",
                f"| resident bytes per held span after one pass | {rss_cell(ls)} | {rss_cell(lj)} | "
                f"**{per_span(lj) / per_span(ls):.2f}×** (Jaeger ÷ store) |",
                f"| trace by id ({n_id} ids, JSON; spans per answer {ls['by_id']['spans_per_answer_min']}–"
                f"{ls['by_id']['spans_per_answer_max']} / {lj['by_id']['spans_per_answer_min']}–{lj['by_id']['spans_per_answer_max']}) "
                f"| {lat(ls['by_id'])} | {lat(lj['by_id'])} | p50 {lj['by_id']['p50_ms'] / ls['by_id']['p50_ms']:.2f}× · "
                f"p99 {lj['by_id']['p99_ms'] / ls['by_id']['p99_ms']:.2f}× (Jaeger ÷ store) |",
                f"| tag search: app-c spans with `http.response.status_code` 502, 20 traces ({n_s} runs) | {lat(ls['search'])} | "
                f"{lat(lj['search'])} | p50 {lj['search']['p50_ms'] / ls['search']['p50_ms']:.2f}× · "
                f"p99 {lj['search']['p99_ms'] / ls['search']['p99_ms']:.2f}× (Jaeger ÷ store) |",
            ]
        out.append("")
    return "\n".join(out)


def plot(meta, rate, loaded, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: a small, diffable SVG
    plt.rcParams["svg.hashsalt"] = "tracelab"  # stable ids between runs

    bs = meta["body_spans"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    ingest, memory, query = axes

    sides = [t for t in ("store", "jaeger", "sink") if t in rate]
    values = [spans_per_s(rate[t], bs) for t in sides]
    ingest.bar(range(len(sides)), values, color=[COLORS[t] for t in sides])
    ingest.set_xticks(range(len(sides)), [TICKS[t] for t in sides], fontsize=8)
    for i, v in enumerate(values):
        ingest.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=8)
    ingest.set_ylabel("spans/s")
    ingest.set_title(f"OTLP/HTTP protobuf ingest, {bs}-span bodies\nwrk -t2 -c8 -d{meta['duration_s']}s", fontsize=9)

    held = {t: loaded[t] for t in ("store", "jaeger") if t in loaded}
    if not held:  # --ingest only: memory after the rate run
        held = {t: rate[t] for t in ("store", "jaeger") if t in rate and rate[t].get("held_spans")}
    sides = list(held)
    values = [per_span(held[t]) for t in sides]
    memory.bar(range(len(sides)), values, color=[COLORS[t] for t in sides])
    memory.set_xticks(range(len(sides)), [TICKS[t] for t in sides], fontsize=8)
    for i, v in enumerate(values):
        memory.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=8)
    memory.set_ylabel("resident bytes per stored span")
    memory.set_title(f"Memory, {meta['spans']:,} spans held", fontsize=9)

    if "store" in loaded and "jaeger" in loaded:
        groups = [("by_id", "trace by id"), ("search", "tag search")]
        width = 0.38
        for n, t in enumerate(("store", "jaeger")):
            xs = [i + (n - 0.5) * width for i in range(len(groups))]
            p50 = [loaded[t][g]["p50_ms"] for g, _ in groups]
            p99 = [loaded[t][g]["p99_ms"] for g, _ in groups]
            query.bar(xs, p50, width, color=COLORS[t], label=f"{LABELS[t]} p50")
            query.scatter(xs, p99, marker="^", color="black", zorder=3, s=18, label="p99" if n == 0 else None)
        query.set_xticks(range(len(groups)), [label for _, label in groups], fontsize=8)
        query.set_yscale("log")
        query.set_ylabel("ms (log)")
        query.set_title("Query latency (sequential, JSON)", fontsize=9)
        query.legend(fontsize=7)
        query.grid(True, which="both", axis="y", alpha=0.3)
    else:
        query.axis("off")
    for ax in (ingest, memory):
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(
        f"tracelab store beside a decode-only sink and Jaeger v2 — commit {meta['commit']}, "
        f"{meta.get('cpus', '?')} CPUs, load average {meta.get('loadavg', '?').split()[0]} at the start",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None} if path.endswith(".svg") else None)


def main():
    meta, rate, loaded = load(sys.argv[1])
    print(tables(meta, rate, loaded))
    if len(sys.argv) > 2:
        plot(meta, rate, loaded, sys.argv[2])
        print(f"plot: {sys.argv[2]}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Turn the benchmark's results.json into Markdown tables and a plot.

    python scripts/bench/report.py target/bench/results.json docs/benchmarks.svg

Prints the tables (pasted into docs/benchmarks.md) and writes the plot:
throughput and p50/p99 latency by concurrency, Rust against Python, on log
scales, medians with min-max bars. Needs matplotlib (scripts/python-env.sh --bench).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams["svg.fonttype"] = "none"  # text stays text: a small, diffable SVG
plt.rcParams["svg.hashsalt"] = "tracelab"  # stable ids between runs


def fmt(s, unit="", digits=0, scale=1.0):
    if not s:
        return "–"
    m, lo, hi = (s[k] * scale for k in ("median", "min", "max"))
    return f"{m:,.{digits}f}{unit} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def ratio(a, b):
    return a["median"] / b["median"] if a and b and b["median"] else float("nan")


def tables(r):
    out = []
    t = r.get("throughput")
    if t:
        out += [
            "| concurrency | side | requests/s | p50 | p90 | p99 | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in t["rust"]:
            for side in ("rust", "python"):
                x = t[side][c]
                errors = (x["errors"]["max"] if x["errors"] else 0) + (x["non2xx"]["max"] if x["non2xx"] else 0)
                out.append(
                    f"| {c} | {side} | {fmt(x['rps'])} | {fmt(x['p50_ms'], ' ms', 2)} | "
                    f"{fmt(x['p90_ms'], ' ms', 2)} | {fmt(x['p99_ms'], ' ms', 2)} | {errors:.0f} |"
                )
        out += ["", "| concurrency | Rust/Python throughput | Python/Rust p50 |", "|---|---|---|"]
        for c in t["rust"]:
            rs, py = t["rust"][c], t["python"][c]
            out.append(f"| {c} | {ratio(rs['rps'], py['rps']):.1f}× | {ratio(py['p50_ms'], rs['p50_ms']):.1f}× |")
        out.append("")
    o = r.get("overhead")
    if o:
        out += ["| concurrency | traced req/s | untraced req/s | traced/untraced (per pair) |", "|---|---|---|---|"]
        for c in o["traced"]:
            out.append(
                f"| {c} | {fmt(o['traced'][c]['rps'])} | {fmt(o['untraced'][c]['rps'])} | "
                f"{fmt(r['overhead_ratio'][c], ' %', 1, 100)} |"
            )
        out.append("")
    w = r.get("wait2s")
    if w:
        out += ["| side | simultaneous requests | last answer after | median answer after | correct answers |", "|---|---|---|---|---|"]
        for side, by_n in w.items():
            for n, x in by_n.items():
                out.append(
                    f"| {side} | {int(n):,} | {fmt(x['last_s'], ' s', 2)} | {fmt(x['p50_s'], ' s', 2)} | {fmt(x['ok'])} of {int(n):,} |"
                )
        out.append("")
    m = r.get("rss_kib")
    if m:
        out += ["| side | service | RSS idle | RSS after load |", "|---|---|---|---|"]
        for side, phases in m.items():
            for app in ("app-a", "app-b", "app-c"):
                idle, loaded = phases["idle"].get(app), phases.get("after_load", {}).get(app)
                out.append(f"| {side} | {app} | {idle / 1024:.1f} MiB | {loaded / 1024:.1f} MiB |")
        out.append("")
    s = r.get("startup_ms")
    if s:
        out += ["| side | service | start to ready |", "|---|---|---|"]
        for side, apps in s.items():
            for app in ("app-a", "app-b", "app-c"):
                out.append(f"| {side} | {app} | {fmt(apps.get(app), ' ms', 1)} |")
        out.append("")
    sp = r.get("spans")
    if sp:
        out += [
            "| concurrency | delay | queue | req/s | requests | cut short by wrk | spans the services recorded | "
            "in the store | dropped | failed |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for x in sp:
            out.append(
                f"| {x['concurrency']} | {x['delay_ms']} ms | {x['queue']} | {x['rps']:,.0f} | {x['requests']:,} | "
                f"{x['cut_short']:,} | {x['recorded_spans']:,} | {x['stored_spans']:,} | {x['dropped']:,} | "
                f"{x['failed']:,} |"
            )
        out.append("")
    return "\n".join(out)


def plot(r, path):
    t = r["throughput"]
    conc = list(t["rust"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    colors = {"rust": "#b7410e", "python": "#3572a5"}
    width = 0.38
    for n, side in enumerate(("rust", "python")):
        xs = [i + (n - 0.5) * width for i in range(len(conc))]
        med = [t[side][c]["rps"]["median"] for c in conc]
        err = [[m - t[side][c]["rps"]["min"] for c, m in zip(conc, med)], [t[side][c]["rps"]["max"] - m for c, m in zip(conc, med)]]
        left.bar(xs, med, width, yerr=err, color=colors[side], label=side.capitalize(), capsize=3)
        for q, style in (("p50_ms", "-o"), ("p99_ms", "--^")):
            med = [t[side][c][q]["median"] for c in conc]
            err = [[m - t[side][c][q]["min"] for c, m in zip(conc, med)], [t[side][c][q]["max"] - m for c, m in zip(conc, med)]]
            right.errorbar(range(len(conc)), med, yerr=err, fmt=style, color=colors[side], capsize=3,
                           label=f"{side.capitalize()} {q.split('_')[0]}")
    for ax in (left, right):
        ax.set_yscale("log")
        ax.set_xticks(range(len(conc)), [f"{c}" for c in conc])
        ax.set_xlabel("concurrent connections (wrk)")
        ax.grid(True, which="both", axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    left.set_ylabel("requests/s (log)")
    left.set_title("Throughput: app-a → app-b → app-c, wait 0")
    right.set_ylabel("latency, ms (log)")
    right.set_title("Latency")
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None} if path.endswith(".svg") else None)


def main():
    results = json.load(open(sys.argv[1]))
    print(tables(results))
    if len(sys.argv) > 2 and "throughput" in results:
        plot(results, sys.argv[2])
        print(f"plot: {sys.argv[2]}", file=sys.stderr)


if __name__ == "__main__":
    main()

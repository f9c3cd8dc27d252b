"""Charts for docs/benchmarks.md from bench/results/latest.json (run by bench/run.ts)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results_path, out_dir = sys.argv[1], sys.argv[2]
with open(results_path) as f:
    results = json.load(f)


def median(values):
    s = sorted(values)
    return s[len(s) // 2] if s else float("nan")


# 1. Latency percentiles per arm at 50% of the direct ceiling.
rows = [o for o in results["overhead"] if o["rateLabel"] == "50% of direct ceiling"]
if rows:
    names = [o["arm"] for o in rows]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.27
    for k, (q, color) in enumerate([("p50", "#4c78a8"), ("p90", "#f58518"), ("p99", "#e45756")]):
        vals = [median([r["latencyMs"][q] for r in o["runs"]]) for o in rows]
        ax.bar([i + (k - 1) * width for i in range(len(rows))], vals, width, label=q, color=color)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("latency (ms, coordinated-omission corrected)")
    ax.set_yscale("log")
    ax.set_title(f"Latency per arm at {rows[0]['rate']} req/s (50% of the direct ceiling), 9 KB requests")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out_dir}/latency-by-arm.png", dpi=110)

# 2. Share of traffic per backend over time while backend-2 is 10x slower.
slow = results["slow"]
if slow:
    fig, axes = plt.subplots(len(slow), 1, figsize=(11, 3.2 * len(slow)), sharex=True)
    axes = axes if len(slow) > 1 else [axes]
    for ax, entry in zip(axes, slow):
        per = entry["run"]["perSecond"]
        t = [p["t"] for p in per]
        backends = sorted({b for p in per for b in p["byBackend"]})
        for b in backends:
            ax.plot(t, [100 * p["byBackend"].get(b, 0) / max(1, p["count"]) for p in per], label=b, linewidth=1.8)
        ax.axvspan(entry["slowFrom"], entry["slowTo"], color="#f58518", alpha=0.12, label="backend-2 slow (x10)")
        ax.set_ylabel("% of calls")
        ax.set_ylim(0, 100)
        ax.set_title(entry["arm"], fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("second of the run")
    fig.tight_layout()
    fig.savefig(f"{out_dir}/slow-backend-share.png", dpi=110)
print("charts written")

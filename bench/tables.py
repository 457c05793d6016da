# Turns the JSON lines that scripts/bench.sh collects into the Markdown tables of
# docs/benchmarks.md. Standard library only.
#
#   python3 bench/tables.py build/bench-results > build/bench-results/tables.md
import json
import os
import sys


def read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def train(rows):
    """Best step time per (model, config, threads, impl) over every round, and the ratio."""
    best = {}
    for r in rows:
        key = (r["model"], r["config"], r["threads"], r["impl"])
        best[key] = min(best.get(key, float("inf")), r["step_ms"])
    out = []
    for (model, config, threads, impl), ms in sorted(best.items()):
        if impl != "pathgrad":
            continue
        peer = best.get((model, config, threads, "pytorch"))
        out.append([model, config, threads, f"{ms:.1f}", f"{1e3 / ms:.2f}",
                    f"{peer:.1f}" if peer else "–", f"{1e3 / peer:.2f}" if peer else "–",
                    f"{ms / peer:.2f}" if peer else "–"])
    return table(["model", "config", "threads", "pathgrad ms/step", "pathgrad steps/s", "PyTorch ms/step",
                  "PyTorch steps/s", "time ratio pathgrad / PyTorch"], out)


def tracking(rows):
    out = []
    for r in rows:
        out.append([r["model"], r["threads"], r["phase"], r.get("probe_scalars", "–"), r.get("sample_level_probes", "–"),
                    f"{r['step_ms_mean']:.0f}", f"{r['ratio_to_plain']:.2f}",
                    f"{r['evaluations_per_step']:.0f}" if "evaluations_per_step" in r else "–",
                    f"{r['kernel_gflop_per_step']:.1f}" if "kernel_gflop_per_step" in r else "–",
                    f"{r['memory_gb']:.2f}" if "memory_gb" in r else "–",
                    f"{r['setup_s']:.1f}" if "setup_s" in r else "–"])
    return table(["model", "threads", "phase", "probe scalars", "sample-level", "ms/step (mean)", "ratio to plain",
                  "probe gradients/step", "kernel GFLOP/step", "tracker memory GB", "setup s"], out)


def kernel(rows):
    out = [[r["m"], r["n"], r["p"], r["dtype"], r["threads"], f"{r['products_ms']:.1f}", f"{r['products_gflops']:.1f}",
            f"{r['direct_ms']:.1f}", f"{r['direct_gflops']:.1f}", f"{r['ratio']:.2f}"] for r in rows]
    return table(["M_s", "N", "P", "buffers", "threads", "products ms", "products GFLOP/s", "direct GEMM ms",
                  "direct GFLOP/s", "ratio"], out)


def quadrature(rows):
    out = []
    for r in rows:
        ok = "yes" if r["relative_error"] < 1e-5 else "no"
        out.append([r["rule"], r["mode"], f"{r['evaluations_per_input_step']:.1f}", f"{r['residual_max']:.1e}",
                    f"{r['relative_error']:.1e}", ok, r["deepest_refinement"], f"{r['tracking_s_per_step'] * 1e3:.0f}"])
    return table(["rule", "mode", "gradient evaluations per probe input and step", "max per-step residual",
                  "final replica error / output scale", "< 1e-5", "deepest refinement", "tracking ms/step"], out)


def main():
    d = sys.argv[1]
    sections = [("Plain training against PyTorch", "train.jsonl", train),
                ("Tracking overhead", "tracking.jsonl", tracking),
                ("Per-sample kernel products", "sample_kernel.jsonl", kernel)]
    for title, name, fn in sections:
        rows = read(os.path.join(d, name))
        if rows:
            print(f"## {title}\n")
            print(fn(rows))
    for name in sorted(os.listdir(d)):
        if name.startswith("quadrature_") and name.endswith(".jsonl"):
            rows = read(os.path.join(d, name))
            if rows:
                print(f"## Quadrature: {rows[0]['model']} ({rows[0]['config']}, {rows[0]['steps']} steps, "
                      f"{rows[0]['probe_inputs']} probes, output scale {rows[0]['output_scale']:.3g})\n")
                print(quadrature(rows))


if __name__ == "__main__":
    main()

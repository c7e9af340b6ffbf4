"""Markdown tables for docs/benchmarks.md from the benchmarks' JSON files, so that the
numbers on that page are copied by a program, not by hand.

    python bench/tables.py [docs/bench]
"""

import json
import os
import sys


def _ratio(x, lo, hi, digits=2):
    """'1.00x (0.99–1.08)': a median ratio and its range over the rounds."""
    return f"{x:.{digits}f}x ({lo:.{digits}f}–{hi:.{digits}f})"


def _load(d, name):
    path = os.path.join(d, name)
    return json.load(open(path)) if os.path.exists(path) else None


def inference(r):
    out = [f"FMA peak (probe, best of 1 and {r['cpu_count']} threads): "
           f"**{r['peak_gflops']:.0f} GFLOP/s**; 2048x2048 GEMM: "
           + ", ".join(f"{k} {v:.0f}" for k, v in r["peak"]["gemm_2048"].items())
           + " GFLOP/s.", "",
           "| model | batch | path | ms | img/s | GFLOP/s | % of FMA peak | vs ONNX Runtime | vs tf.function |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for x in r["backends"]:
        ort = f"{x['ratio_vs_onnxruntime']:.2f}x" if x["ratio_vs_onnxruntime"] else "–"
        mark = " ← Predictor(auto)" if x["predictor_auto_picks"] else ""
        out.append(f"| {x['model']} | {x['batch']} | {x['path']}{mark} | {x['ms']:.1f} | "
                   f"{x['img_per_s']:.1f} | {x['gflops']:.0f} | {x['pct_of_fma_peak']:.0f}% | "
                   f"{ort} | {x['ratio_vs_tf_function']:.2f}x |")
    out += ["", "| model | TFLite | size KiB | batch-1 ms | vs Keras tf.function | "
            "top-1 agreement | accuracy (Keras) |", "|---|---|---:|---:|---:|---:|---:|"]
    for x in r["tflite"]:
        acc = (f"{100 * x['accuracy']:.2f}% ({100 * x['keras_accuracy']:.2f}%)"
               if "accuracy" in x else "–")
        agree = (f"{100 * x['top1_agreement']:.2f}% of {x['images']}"
                 if "accuracy" in x else "– (random weights)")
        out.append(f"| {x['model']} | {x['variant']} | {x['size_kb']:.0f} | "
                   f"{x['latency_ms']:.2f} | {x['speedup_vs_keras']:.2f}x | {agree} | {acc} |")
    return "\n".join(out)


def training(r):
    out = [f"| variant | what changes | img/s | vs {r['reference']} (range) |",
           "|---|---|---:|---:|"]
    for n, rate in r["images_per_s_median"].items():
        out.append(f"| {n} | {r['variants'][n]} | {rate:.0f} | "
                   f"{_ratio(r['ratio_vs_reference'][n], *r['ratio_range'][n])} |")
    return "\n".join(out)


def pipeline(r):
    out = ["| case | batch | pipeline img/s | training step img/s | pipeline / step (range) |",
           "|---|---:|---:|---:|---:|"]
    for c in r["cases"]:
        out.append(f"| {c['case']} | {c['batch']} | {c['pipeline_img_per_s']:.0f} | "
                   f"{c['step_img_per_s']:.1f} | {_ratio(c['ratio'], *c['ratio_range'], 1)} |")
    return "\n".join(out)


def batch1(r):
    out = ["| variant | what changes | ms (median) | vs ONNX Runtime (range) |",
           "|---|---|---:|---:|"]
    for x in r["variants"]:
        out.append(f"| {x['variant']} | {x['what']} | {x['ms']:.1f} | "
                   f"{_ratio(x['ratio_vs_onnxruntime'], *x['ratio_range'])} |")
    out += ["", "| convolutions | G multiply-adds | TF graph ms | TF GFLOP/s | "
            "ONNX Runtime ms | ONNX Runtime GFLOP/s |", "|---|---:|---:|---:|---:|---:|"]
    for x in r["profile"]:
        g = lambda v: f"{v:.0f}" if v else "–"  # noqa: E731
        out.append(f"| {x['kind']} | {x['macs'] / 1e9:.3f} | {x['tf_ms']:.2f} | "
                   f"{g(x['tf_gflops'])} | {x['ort_ms']:.2f} | {g(x['ort_gflops'])} |")
    return "\n".join(out)


def main(d="docs/bench"):
    for name, fn in (("inference_backends.json", inference),
                     ("batch1_paths.json", batch1),
                     ("train_throughput_vs_torch.json", training),
                     ("pipeline_vs_step.json", pipeline)):
        r = _load(d, name)
        if r is not None:
            print(f"<!-- {name} -->\n{fn(r)}\n")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Markdown tables for docs/benchmarks.md from the benchmarks' JSON files, so that the
numbers on that page are copied by a program, not by hand.

    python bench/tables.py [docs/bench]
"""

import json
import os
import sys


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
        lo, hi = r["ratio_range"][n]
        out.append(f"| {n} | {r['variants'][n]} | {rate:.0f} | "
                   f"{r['ratio_vs_reference'][n]:.2f}x ({lo:.2f}–{hi:.2f}) |")
    return "\n".join(out)


def pipeline(r):
    out = ["| case | batch | pipeline img/s | training step img/s | pipeline / step (range) |",
           "|---|---:|---:|---:|---:|"]
    for c in r["cases"]:
        lo, hi = c["ratio_range"]
        out.append(f"| {c['case']} | {c['batch']} | {c['pipeline_img_per_s']:.0f} | "
                   f"{c['step_img_per_s']:.1f} | {c['ratio']:.1f}x ({lo:.1f}–{hi:.1f}) |")
    return "\n".join(out)


def batch1(r):
    from batch1_paths import table

    return table(r)


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

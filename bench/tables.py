"""Markdown tables for docs/benchmarks.md from the benchmarks' JSON files, so that the
numbers on that page are copied by a program, not by hand.

    python bench/tables.py [docs/bench]
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

INFERENCE_SCHEMA = 3  # bench/inference_backends.py's SCHEMA


def _ratio(x, lo, hi, digits=2):
    """'1.00x (0.99–1.08)': a median ratio and its range over the rounds."""
    return f"{x:.{digits}f}x ({lo:.{digits}f}–{hi:.{digits}f})"


def _load(d, name):
    path = os.path.join(d, name)
    return json.load(open(path)) if os.path.exists(path) else None


def _pct(v):
    return f"{v:.0f}%" if v is not None else "–"


def _path_label(x):
    """The path's name, with what auto picked, the precision OpenVINO actually ran and
    whether the path was verified against Keras."""
    label = x["path"]
    if x.get("backend"):
        label += f" → {x['backend']}"
    if x.get("precision") and x["precision"] != "bf16" and "bf16" in x["path"]:
        label += f" (ran {x['precision']}: no bf16 on this CPU)"
    if x.get("verified") is False:
        label += " (unverified)"
    return label


def inference_peaks(r):
    m, p = r["machine"], r["peak"]
    if p.get("bf16_peak_gflops"):
        widths = ", ".join(f"{w}-bit {max(v for v in d.values() if v):.0f}"
                           for w, d in p["bf16_probe"].items() if any(d.values()))
        bf16 = f"bf16 `vdpbf16ps` **{p['bf16_peak_gflops']:.0f} GFLOP/s** ({widths})"
    else:
        bf16 = f"bf16 `vdpbf16ps`: **{p.get('bf16_note', 'not available')}**"
    fp32 = (f"**{p['fp32_peak_gflops']:.0f} GFLOP/s**" if p.get("fp32_peak_gflops")
            else "not measured")
    onednn = ("" if "tf_onednn" not in m else
              f"; TensorFlow oneDNN kernels: {'on' if m['tf_onednn'] else 'off'}")
    return (f"Machine: {m['cpu']}, {m['cpu_count']} cores ({', '.join(m['cpu_flags'])}; "
            f"OpenVINO CPU capabilities: {', '.join(m['openvino_cpu_capabilities'])}"
            f"{onednn}). "
            f"Peaks measured in the same run (`bench/fma_peak.py`, best of 1 and "
            f"{m['cpu_count']} threads): float32 FMA {fp32}; {bf16}; 2048x2048 GEMM: "
            + ", ".join(f"{k} {v:.0f}" for k, v in p["gemm_2048"].items()) + " GFLOP/s.")


def inference(r):
    out = [inference_peaks(r), "",
           "| model | batch | path | ms | img/s | GFLOP/s | % of fp32 peak | % of bf16 peak | "
           "vs ONNX Runtime (range) | max rel. error |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for x in r["backends"]:
        if x.get("ms") is None:
            out.append(f"| {x['model']} | {x['batch']} | {x['path']} | "
                       + "– | " * 6 + f"failed: {x.get('error', 'not built')} |")
            continue
        ort = (_ratio(x["ratio_vs_onnxruntime"], *x["ratio_range"])
               if x.get("ratio_vs_onnxruntime") else "–")
        out.append(f"| {x['model']} | {x['batch']} | {_path_label(x)} | {x['ms']:.1f} | "
                   f"{x['img_per_s']:.1f} | {x['gflops']:.0f} | {_pct(x['pct_of_fp32_peak'])} | "
                   f"{_pct(x['pct_of_bf16_peak'])} | {ort} | {x['max_rel_error']:.1e} |")
    met = {True: "yes", False: "**no**", None: "not measured"}
    out += ["", "| goal | measured | met |", "|---|---|---|"]
    out += [f"| {g['goal']} | {g['measured']} | {met[g['met']]} |" for g in r["goals"]]
    out += ["", "| weights | test images | Keras fp32 | OpenVINO fp32 | OpenVINO bf16 | "
            "OpenVINO int8 (NNCF) | LiteRT int8 |", "|---|---:|---:|---:|---:|---:|---:|"]

    def cell(x):
        if not x or "accuracy" not in x:
            return "not run: " + (x or {}).get("note", "no bf16 on this CPU")[:60]
        ran = f", ran {x['precision']}" if x.get("precision") not in (None, "bf16") else ""
        return (f"{100 * x['accuracy']:.2f}% (agreement {100 * x['top1_agreement']:.2f}%"
                f"{ran})")

    for x in r["fashion_mnist"]:
        out.append(f"| {x['weights']} | {x['images']} | {100 * x['keras_fp32_accuracy']:.2f}% | "
                   + " | ".join(cell(x.get(k)) for k in ("openvino_fp32", "openvino_bf16",
                                                         "openvino_int8", "litert_int8"))
                   + " |")
    out += ["", "| weights | precision='auto' picks | threads | batch-1 ms | ONNX Runtime fp32 "
            "ms | vs ONNX Runtime (range) | pick's agreement / accuracy |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for x in r["fashion_mnist"]:
        a, pick = x["auto"], x["auto_pick"]
        out.append(f"| {x['weights']} | {a['pick']} | {a['num_threads']} | {a['batch1_ms']:.3f} | "
                   f"{a['onnxruntime_batch1_ms']:.3f} | "
                   f"{_ratio(a['ratio_vs_onnxruntime'], *a['ratio_range'])} | "
                   f"{100 * pick['top1_agreement']:.2f}% / {100 * pick['accuracy']:.2f}% |")
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


def training_pairs(r):
    """The training table, then the per-round ratios between named variants."""
    out = [training(r), "", "| ratio (per round) | median | range |", "|---|---:|---:|"]
    for k, v in r.get("pair_ratios", {}).items():
        out.append(f"| {k} | {v['median']:.2f}x | {v['range'][0]:.2f}–{v['range'][1]:.2f} |")
    return "\n".join(out)


def profile(r):
    """Per-op-type thread-time of a training step, float32 beside bfloat16."""
    from profile_train_step import GROUPS

    f32, b16 = (r["precisions"][p]["ops_ms_per_step"] for p in ("float32", "bfloat16"))
    total = {p: sum(v["ops_ms_per_step"].values()) for p, v in r["precisions"].items()}
    out = [f"Machine: {r['cpu']}, {r['cpu_count']} cores (bf16 units: "
           f"{', '.join(r['bf16_units']) or 'none'}); {r['steps']} profiled steps; wall time "
           f"per step float32 {r['precisions']['float32']['wall_ms_per_step']:.0f} ms, "
           f"bfloat16 {r['precisions']['bfloat16']['wall_ms_per_step']:.0f} ms.", "",
           "| op | what it is | float32 ms/step | bfloat16 ms/step | share of bf16 |",
           "|---|---|---:|---:|---:|"]
    keys = sorted(set(f32) | set(b16), key=lambda k: -b16.get(k, 0.0))
    shown = [k for k in keys if k in GROUPS]
    for k in shown:
        out.append(f"| {k} | {GROUPS[k]} | {f32.get(k, 0):.1f} | {b16.get(k, 0):.1f} | "
                   f"{100 * b16.get(k, 0) / total['bfloat16']:.0f}% |")
    rest = {p: sum(v for k, v in d.items() if k not in GROUPS) for p, d in
            (("float32", f32), ("bfloat16", b16))}
    out.append(f"| (other ops) | optimizer, loss, pooling, ... | {rest['float32']:.1f} | "
               f"{rest['bfloat16']:.1f} | {100 * rest['bfloat16'] / total['bfloat16']:.0f}% |")
    out.append(f"| **all** | thread-time | {total['float32']:.1f} | {total['bfloat16']:.1f} | "
               "100% |")
    return "\n".join(out)


def onednn_primitives(r):
    """oneDNN's time per primitive kind in one bf16 training step, TensorFlow beside
    PyTorch, then what the step spends outside oneDNN."""
    from onednn_primitives import KINDS

    tf_, pt = r["tensorflow"], r["torch"]
    out = [f"Machine: {r['cpu']}, {r['cpu_count']} cores (bf16 units: "
           f"{', '.join(r['bf16_units']) or 'none'}); "
           + "".join(f"{k} {v}, " for k, v in r.get("versions", {}).items() if v)
           + f"{r['threads']} threads each; "
           f"TensorFlow one op at a time (inter-op threads {r['tensorflow_inter_op']}); "
           f"{r['rounds']} rounds of {r['steps']} logged steps; oneDNN in TensorFlow "
           f"{tf_['onednn']} (runtime: {tf_['onednn_runtime']}), in PyTorch "
           f"{pt['onednn']} (runtime: {pt['onednn_runtime']}).", "",
           "| oneDNN primitive | kernel (TensorFlow) | ours ms/step | PyTorch ms/step |",
           "|---|---|---:|---:|"]
    rows = [k for k in list(KINDS.values()) + ["other oneDNN primitives"]
            if k in tf_["rows"] or k in pt["rows"]]

    def ms(fw, k):
        return fw["rows"].get(k, {}).get("ms", 0.0)

    for k in rows:
        kernels = ", ".join(f"`{x}`" for x in tf_["rows"].get(k, {}).get("kernels", []))
        same = tf_["rows"].get(k, {}).get("kernels") == pt["rows"].get(k, {}).get("kernels")
        note = " (PyTorch: the same)" if same and kernels else (
            "" if k in pt["rows"] else " (PyTorch: not oneDNN)")
        out.append(f"| {k} | {kernels}{note} | {ms(tf_, k):.1f} | {ms(pt, k):.1f} |")
    total = {n: sum(v["ms"] for v in fw["rows"].values()) for n, fw in
             (("tf", tf_), ("pt", pt))}
    out.append(f"| **all oneDNN** | | {total['tf']:.1f} | {total['pt']:.1f} |")
    out.append(f"| step wall time (median) | | {tf_['wall_ms_per_step']:.1f} | "
               f"{pt['wall_ms_per_step']:.1f} |")
    out.append(f"| outside oneDNN (wall − oneDNN) | element-wise ops, PyTorch's batch norm, "
               f"optimizer, framework | {tf_['wall_ms_per_step'] - total['tf']:.1f} | "
               f"{pt['wall_ms_per_step'] - total['pt']:.1f} |")
    c = r["convolutions_tf_over_torch"]
    out += ["", f"Convolutions, ours / PyTorch's time (per round): "
                f"{_ratio(c['median'], *c['range'])}."]
    return "\n".join(out)


def pipeline(r):
    out = ["| case | batch | pipeline img/s | training step img/s | pipeline / step (range) |",
           "|---|---:|---:|---:|---:|"]
    for c in r["cases"]:
        out.append(f"| {c['case']} | {c['batch']} | {c['pipeline_img_per_s']:.0f} | "
                   f"{c['step_img_per_s']:.1f} | {_ratio(c['ratio'], *c['ratio_range'], 1)} |")
    return "\n".join(out)


def onednn_inference(r):
    out = [f"Machine: {r['cpu']}, {r['cpu_count']} cores ({', '.join(r['cpu_flags'])}); "
           f"TensorFlow {r['tensorflow']}; {r['rounds']} rounds.", "",
           "| model, batch | oneDNN on ms | oneDNN off ms | off / on (range) |",
           "|---|---:|---:|---:|"]
    for x in r["rows"]:
        out.append(f"| {x['case']} | {x['on_ms']:.1f} | {x['off_ms']:.1f} | "
                   f"{_ratio(x['ratio_off_over_on'], x['ratio_min'], x['ratio_max'])} |")
    return "\n".join(out)


def batch1_processes(r):
    m = r["machine"]
    out = [f"Machine: {m['cpu']}, {m['cpu_count']} cores ({', '.join(m['cpu_flags'])}); "
           f"{r['rounds']} rounds of {r['seconds']:g} s stretches per path.", "",
           "| weights | auto picks | threads | auto ms | ONNX Runtime fp32 ms | "
           "auto vs ONNX Runtime (range) | checks per call: fast path / general path "
           "(auto; ONNX Runtime) |",
           "|---|---|---:|---:|---:|---:|---|"]
    for x in r["rows"]:
        o = x["predictor_overhead"]
        checks = "; ".join(f"{v['overhead_us']:.0f} / {v['general_path_overhead_us']:.0f} us"
                           for v in (o["Predictor(auto)"], o["onnxruntime fp32"]))
        out.append(f"| {x['weights']} | {x['pick']} | {x['num_threads']} | "
                   f"{x['auto_ms']:.3f} | {x['onnxruntime_ms']:.3f} | "
                   f"{_ratio(x['ratio_vs_onnxruntime'], *x['ratio_range'])} | {checks} |")
    out += ["", "| goal | measured | met |", "|---|---|---|"]
    out += [f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |"
            for g in r["goals"]]
    return "\n".join(out)


def main(d="docs/bench"):
    for name, fn in (("inference_backends.json", inference),
                     ("inference_backends_avx512bf16.json", inference),
                     ("train_throughput_vs_torch.json", training),
                     ("train_precision.json", training),
                     ("train_precision_bf16.json", training_pairs),
                     ("train_onednn.json", training),
                     ("pipeline_vs_step.json", pipeline),
                     ("train_precision_avx512bf16.json", training_pairs),
                     ("profile_train_step.json", profile),
                     ("onednn_primitives.json", onednn_primitives),
                     ("tf_onednn_inference.json", onednn_inference),
                     ("batch1_processes.json", batch1_processes)):
        r = _load(d, name)
        if r is None:
            continue
        if name.startswith("inference_backends") and r.get("schema") != INFERENCE_SCHEMA:
            print(f"{d}/{name}: written by an older bench/inference_backends.py; rerun it",
                  file=sys.stderr)
            continue
        print(f"<!-- {name} -->\n{fn(r)}\n")


if __name__ == "__main__":
    main(*sys.argv[1:])

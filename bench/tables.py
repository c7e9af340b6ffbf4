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
    """oneDNN's time per primitive kind in one training step: ours in bf16 beside
    PyTorch's bf16 and our float32, what each step spends outside oneDNN, and the
    convolutions' rate against the machine's peaks."""
    from onednn_primitives import KINDS

    tf_, pt, f32 = r["tensorflow"], r["torch"], r["tensorflow_float32"]
    peaks = r["peaks"]
    peak_text = (f"float32 FMA {peaks['float32_gflops']:.0f} GFLOP/s, bf16 `vdpbf16ps` "
                 + (f"{peaks['bfloat16_gflops']:.0f} GFLOP/s" if peaks["bfloat16_gflops"]
                    else "not available"))
    out = [f"Machine: {r['cpu']}, {r['cpu_count']} cores (bf16 units: "
           f"{', '.join(r['bf16_units']) or 'none'}); "
           + "".join(f"{k} {v}, " for k, v in r.get("versions", {}).items() if v)
           + f"{r['threads']} threads each; "
           f"TensorFlow one op at a time (inter-op threads {r['tensorflow_inter_op']}); "
           f"{r['rounds']} rounds of {r['steps']} logged steps; oneDNN in TensorFlow "
           f"{tf_['onednn']} (runtime: {tf_['onednn_runtime']}), in PyTorch "
           f"{pt['onednn']} (runtime: {pt['onednn_runtime']}). Peaks measured in the same "
           f"run on {r['threads']} threads (`bench/fma_peak.py`): {peak_text}.", "",
           "| oneDNN primitive | kernel (ours, bf16) | GFLOP/step | ours bf16 ms/step "
           "(% of bf16 peak) | PyTorch bf16 ms/step (%) | ours float32 ms/step (% of float32 "
           "peak) | float32 / bf16 time |",
           "|---|---|---:|---:|---:|---:|---:|"]
    rows = [k for k in list(KINDS.values()) + ["other oneDNN primitives"]
            if k in tf_["rows"] or k in pt["rows"] or k in f32["rows"]]

    def ms(fw, k):
        return fw["rows"].get(k, {}).get("ms", 0.0)

    def rate(fw, k, peak):
        v = fw["rows"].get(k, {})
        if not v.get("gflop") or not v["ms"] or not peak:
            return ""
        return f" ({_pct(100 * v['gflop'] / v['ms'] * 1000 / peak)})"

    for k in rows:
        kernels = ", ".join(f"`{x}`" for x in tf_["rows"].get(k, {}).get("kernels", []))
        same = tf_["rows"].get(k, {}).get("kernels") == pt["rows"].get(k, {}).get("kernels")
        note = " (PyTorch: the same)" if same and kernels else (
            "" if k in pt["rows"] else " (PyTorch: not oneDNN)")
        gflop = tf_["rows"].get(k, {}).get("gflop")
        gain = (f"{ms(f32, k) / ms(tf_, k):.2f}x" if ms(tf_, k) and ms(f32, k) else "–")
        out.append(f"| {k} | {kernels}{note} | {f'{gflop:.1f}' if gflop else ''} | "
                   f"{ms(tf_, k):.1f}{rate(tf_, k, peaks['bfloat16_gflops'])} | "
                   f"{ms(pt, k):.1f}{rate(pt, k, peaks['bfloat16_gflops'])} | "
                   f"{ms(f32, k):.1f}{rate(f32, k, peaks['float32_gflops'])} "
                   f"| {gain} |")
    total = {n: sum(v["ms"] for v in fw["rows"].values()) for n, fw in
             (("tf", tf_), ("pt", pt), ("f32", f32))}
    out.append(f"| **all oneDNN** | | | {total['tf']:.1f} | {total['pt']:.1f} | "
               f"{total['f32']:.1f} | {total['f32'] / total['tf']:.2f}x |")
    walls = {n: fw["wall_ms_per_step"] for n, fw in (("tf", tf_), ("pt", pt), ("f32", f32))}
    out.append(f"| step wall time (median) | | | {walls['tf']:.1f} | {walls['pt']:.1f} | "
               f"{walls['f32']:.1f} | {walls['f32'] / walls['tf']:.2f}x |")
    out.append(f"| outside oneDNN (wall − oneDNN) | element-wise ops, PyTorch's batch norm, "
               f"optimizer, framework | | {walls['tf'] - total['tf']:.1f} | "
               f"{walls['pt'] - total['pt']:.1f} | {walls['f32'] - total['f32']:.1f} | |")
    floor = r["convolution_floor_ms"]
    if floor.get("tensorflow") and floor.get("tensorflow_float32"):
        out.append(f"| convolutions at 100% of the peak | the floor for this model's "
                   f"multiply-adds | | {floor['tensorflow']:.1f} | {floor['torch']:.1f} | "
                   f"{floor['tensorflow_float32']:.1f} | "
                   f"{floor['tensorflow_float32'] / floor['tensorflow']:.2f}x |")
    c, g = r["convolutions_tf_over_torch"], r["convolutions_float32_over_bf16"]
    out += ["", f"Convolutions, per round: ours bf16 / PyTorch bf16 time "
                f"{_ratio(c['median'], *c['range'])}; ours float32 / ours bf16 time "
                f"{_ratio(g['median'], *g['range'])}."]
    out += ["", _conv_shapes(r)]
    return "\n".join(out)


def _conv_shapes(r):
    """Our convolutions by layer shape: each pass's rate as a share of the peak of its
    precision (bf16 step: bf16 peak; float32 step: float32 peak)."""
    from onednn_primitives import PROBLEM_TERM

    passes = ("convolution, forward", "convolution, backward data",
              "convolution, backward weights")
    steps = (("tensorflow", r["peaks"]["bfloat16_gflops"], "bf16"),
             ("tensorflow_float32", r["peaks"]["float32_gflops"], "float32"))
    shapes = {}
    for worker, peak, _ in steps:
        for kind in passes:
            for problem, p in r[worker]["rows"].get(kind, {}).get("problems", {}).items():
                t = dict((k, int(v)) for k, v in reversed(PROBLEM_TERM.findall(problem)))
                key = (t["ih"], t["ic"], t["oc"], t["kh"], t["sh"])
                entry = shapes.setdefault(key, {"calls": p["calls"], "gflop": p["gflop"]})
                entry[(worker, kind)] = (100 * p["gflop"] / p["ms"] * 1000 / peak
                                         if p["ms"] and peak else None)
    head = ("| layer (input size, channels, kernel, stride) | calls/step | GFLOP/step | "
            + " | ".join(f"{label} {kind.split(', ')[1]} (% of {label} peak)"
                         for _, _, label in steps for kind in passes) + " |")
    out = [head, "|---|---:|---:|" + "---:|" * (2 * len(passes))]
    for key in sorted(shapes, key=lambda k: (-k[0], k[1], k[2])):
        h, ci, co, k, st = key
        e = shapes[key]
        cells = " | ".join(_pct(e.get((w, kind))) for w, _, _ in steps for kind in passes)
        out.append(f"| {h}x{h}, {ci}→{co}, {k}x{k}, stride {st} | {e['calls']} | "
                   f"{e['gflop']:.2f} | {cells} |")
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

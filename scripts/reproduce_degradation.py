"""The paper's central experiment at small scale: plain vs residual nets of 20 and 56
layers trained with one recipe (Figure 6 / Table 6 analogue), their layer responses
(Figure 7) and shortcut options A/B/C on ResNet-20 (Table 3 analogue), on
Fashion-MNIST from Debian's ``dataset-fashion-mnist``.

    python scripts/reproduce_degradation.py run      # trains what is missing (resumable)
    python scripts/reproduce_degradation.py report   # figures + results.json + table

Every run is an ordinary ``keras_resnet.training.train`` run directory under
``--runs`` (default ``runs/degradation``), so an interrupted ``run`` resumes where it
stopped. ``report`` writes ``docs/reproduction/``. The default scale (8,000 training
images, the first 2,000 test images, 10 epochs of the paper's CIFAR recipe with its
lr drops at 50% and 75%, 2 seeds) is what two CPU cores do in about an hour; pass
``--train-examples 60000 --test-examples 10000 --epochs 60`` for the full data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_resnet import rundir  # noqa: E402  (the run directory's file names)

NETS = ("plain20", "plain56", "resnet20", "resnet56")
SHORTCUTS = ("B", "C")  # option A is the resnet20 run itself
LABELS = {"plain20": "plain-20", "plain56": "plain-56", "resnet20": "ResNet-20",
          "resnet56": "ResNet-56"}


def run_name(net, seed, shortcut=None):
    return f"{net}{'_' + shortcut if shortcut else ''}_seed{seed}"


def planned_runs(seeds, with_shortcuts=True):
    runs = [(net, seed, None) for seed in seeds for net in NETS]
    if with_shortcuts:
        runs += [("resnet20", seed, s) for seed in seeds for s in SHORTCUTS]
    return runs


def cmd_run(args):
    from keras_resnet.training import train

    for net, seed, shortcut in planned_runs(args.seeds, not args.no_shortcuts):
        out = os.path.join(args.runs, run_name(net, seed, shortcut))
        if os.path.exists(os.path.join(out, rundir.METRICS)):
            print(f"done already: {out}")
            continue
        train(net, args.dataset, "paper-cifar10", epochs=args.epochs, out=out, seed=seed,
              max_train_examples=args.train_examples, max_test_examples=args.test_examples,
              shortcut=shortcut, verbose=2, plot=False)


def _mean_spread(values):
    import numpy as np

    v = np.asarray(values, "float64")
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()),
            "n": int(v.size), "values": [float(x) for x in v]}


def _curves(run_dirs):
    """Train/test error (%) per epoch, stacked over seeds: (train[n, E], test[n, E])."""
    import numpy as np

    from keras_resnet.evaluation.curves import read_log

    logs = [read_log(d) for d in run_dirs]
    epochs = min(len(log["epoch"]) for log in logs)
    train = np.array([[100 * (1 - a) for a in log["accuracy"][:epochs]] for log in logs])
    test = np.array([[100 * (1 - a) for a in log["val_accuracy"][:epochs]] for log in logs])
    return train, test


def plot_figure6(groups, out):
    """Two panels like the paper's Figure 6: plain nets left, ResNets right; dashed =
    training error, bold = test error; mean over seeds, band = min..max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120, sharey=True)
    colors = {"20": "#e6a100", "56": "#c0392b"}
    for ax, family in zip(axes, ("plain", "resnet")):
        for depth in ("20", "56"):
            net = f"{family}{depth}"
            train, test = groups[net]
            x = np.arange(1, train.shape[1] + 1)
            c = colors[depth]
            for curve, style, lw, kind in ((train, "--", 1.2, "train"), (test, "-", 2.4, "test")):
                ax.plot(x, curve.mean(0), style, color=c, lw=lw,
                        label=f"{LABELS[net]} {kind}")
                ax.fill_between(x, curve.min(0), curve.max(0), color=c, alpha=0.15, lw=0)
        ax.set_title(("plain networks" if family == "plain" else "residual networks")
                     + f" ({train.shape[0]} seeds: mean, band = range)")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("error (%)")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def plot_figure7(responses, out):
    """Layer response std in network order (top) and sorted descending (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 6.5), dpi=120)
    styles = {"plain20": ("#e6a100", "--"), "plain56": ("#c0392b", "--"),
              "resnet20": ("#e6a100", "-"), "resnet56": ("#c0392b", "-")}
    for net, stds in responses.items():
        c, ls = styles[net]
        values = list(stds.values())
        axes[0].plot(range(1, len(values) + 1), values, ls, color=c, marker=".",
                     label=LABELS[net])
        axes[1].plot(range(1, len(values) + 1), sorted(values, reverse=True), ls, color=c,
                     marker=".", label=LABELS[net])
    axes[0].set_xlabel("layer index (original order)")
    axes[1].set_xlabel("layer index (sorted by magnitude)")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylabel("std (log scale)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("responses of the 3x3 layers (after BN, before ReLU/addition), seed 0")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def test_images(run_dir, dataset, test_examples):
    """The run's test images, preprocessed as in its evaluation (its pixel mean)."""
    import numpy as np

    from keras_resnet.data.augment import eval_dataset
    from keras_resnet.data.sources import load_split

    split = load_split(dataset, "test")
    if test_examples:
        split = split.take(test_examples)
    mean = rundir.read_pixel_mean(run_dir)
    ds = eval_dataset(split, "cifar", mean, 500, channels=1)
    return np.concatenate([x.numpy() for x, _ in ds])


def _sq_norm(model):
    """Sum of squares of all convolution kernels."""
    import keras
    import numpy as np

    return float(sum(np.sum(np.square(l.kernel.numpy())) for l in model.layers
                     if isinstance(l, keras.layers.Conv2D)))


def cmd_report(args):
    import numpy as np

    import keras_resnet
    from keras_resnet.evaluation.responses import layer_responses

    os.makedirs(args.docs, exist_ok=True)
    results = {"scale": {"train_examples": args.train_examples,
                         "test_examples": args.test_examples, "epochs": args.epochs,
                         "seeds": args.seeds, "recipe": "paper-cifar10"}, "nets": {}}
    groups = {}
    for net in NETS:
        dirs = [os.path.join(args.runs, run_name(net, s)) for s in args.seeds]
        train, test = _curves(dirs)
        groups[net] = (train, test)
        results["nets"][net] = {"final_train_error": _mean_spread(train[:, -1]),
                                "final_test_error": _mean_spread(test[:, -1]),
                                "epochs_logged": int(train.shape[1])}
    plot_figure6(groups, os.path.join(args.docs, "figure6_fashion_mnist.png"))

    responses = {}
    for net in NETS:
        d = os.path.join(args.runs, run_name(net, args.seeds[0]))
        model = keras_resnet.load_model(os.path.join(d, rundir.MODEL))
        xs = test_images(d, args.dataset, args.test_examples)[:args.response_images]
        responses[net] = layer_responses(model, xs)
        fresh = keras_resnet.build(net, input_shape=tuple(model.inputs[0].shape[1:]))
        results["nets"][net]["conv_weight_growth"] = _sq_norm(model) / _sq_norm(fresh)
        results["nets"][net]["response_std"] = {
            "mean": float(np.mean(list(responses[net].values()))),
            "median": float(np.median(list(responses[net].values()))),
            "per_layer": responses[net]}
    plot_figure7(responses, os.path.join(args.docs, "figure7_layer_responses.png"))

    results["shortcuts"] = {}
    for option in ("A",) + SHORTCUTS:
        dirs = [os.path.join(args.runs, run_name("resnet20", s, None if option == "A" else option))
                for s in args.seeds]
        if not all(os.path.exists(os.path.join(d, rundir.LOG)) for d in dirs):
            continue
        train, test = _curves(dirs)
        params = keras_resnet.build("resnet20", input_shape=(28, 28, 1), shortcut=option).count_params()
        results["shortcuts"][option] = {"final_train_error": _mean_spread(train[:, -1]),
                                        "final_test_error": _mean_spread(test[:, -1]),
                                        "params": int(params)}
    with open(os.path.join(args.docs, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(markdown_tables(results))


def markdown_tables(results):
    def fmt(s):
        return f"{s['mean']:.2f} ({s['min']:.2f}–{s['max']:.2f})"

    lines = ["| network | final training error % | final test error % | "
             "response std: mean | median | conv weights' sum of squares / initial |",
             "|---|---:|---:|---:|---:|---:|"]
    for net, r in results["nets"].items():
        lines.append(f"| {LABELS[net]} | {fmt(r['final_train_error'])} | "
                     f"{fmt(r['final_test_error'])} | {r['response_std']['mean']:.3f} | "
                     f"{r['response_std']['median']:.3f} | "
                     f"{r.get('conv_weight_growth', float('nan')):.1f} |")
    if results.get("shortcuts"):
        lines += ["", "| ResNet-20 shortcut | parameters | final training error % | "
                  "final test error % |", "|---|---:|---:|---:|"]
        for option, r in results["shortcuts"].items():
            lines.append(f"| {option} | {r['params']:,} | {fmt(r['final_train_error'])} | "
                         f"{fmt(r['final_test_error'])} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("run", "report"))
    p.add_argument("--dataset", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--runs", default="runs/degradation")
    p.add_argument("--docs", default="docs/reproduction")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-examples", type=int, default=8000)
    p.add_argument("--test-examples", type=int, default=2000)
    p.add_argument("--response-images", type=int, default=1000)
    p.add_argument("--no-shortcuts", action="store_true",
                   help="skip the ResNet-20 option B/C runs (Table 3 analogue)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.dataset):
        sys.exit(f"{args.dataset} not found: install Debian's dataset-fashion-mnist "
                 "(make data) or pass --dataset DIR with the idx files")
    (cmd_run if args.command == "run" else cmd_report)(args)


if __name__ == "__main__":
    main()

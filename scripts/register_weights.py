"""Ship the weights of a finished ``keras-resnet train`` run in ``weights/``: the model's
weights (``<tag>.weights.h5``), its per-pixel mean (``<tag>.pixel_mean.npy``) and a
registry entry whose accuracy is measured here by the same evaluation as
``keras-resnet evaluate`` (centre view) on the dataset's full test split.

    python scripts/register_weights.py runs/resnet20_fashion_mnist \\
        --tag resnet20.fashion_mnist --dataset /usr/share/datasets/fashion-mnist \\
        --command "keras-resnet train --model resnet20 ..."
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "weights")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run")
    p.add_argument("--tag", required=True, help="<arch>.<name>, e.g. resnet20.fashion_mnist")
    p.add_argument("--dataset", required=True)
    p.add_argument("--command", required=True, help="the command that trained the run")
    p.add_argument("--dataset-name", default="Fashion-MNIST")
    args = p.parse_args(argv)

    import keras_resnet
    from keras_resnet.data import load_split
    from keras_resnet.evaluation.views import evaluate
    from keras_resnet.arch.specs import get_spec

    from keras_resnet.rundir import read_run

    run = read_run(args.run)  # the run directory's one reader
    arch = get_spec(run.config["model"]).name
    if not args.tag.startswith(arch + "."):
        sys.exit(f"--tag must start with {arch}. (the run trained {arch})")
    model = keras_resnet.load_model(run.model_path)
    mean = run.pixel_mean
    test = load_split(args.dataset, "test")
    result = evaluate(model, test, get_spec(arch).family, mean, "center")
    stem = args.tag.replace(".", "_")
    weights_file, mean_file = f"{stem}.weights.h5", f"{stem}.pixel_mean.npy"
    model.save_weights(os.path.join(WEIGHTS, weights_file))
    np.save(os.path.join(WEIGHTS, mean_file), mean)
    from keras_resnet.io import file_digest

    digest = file_digest(os.path.join(WEIGHTS, weights_file), "sha256")
    entry = {
        "arch": arch, "stride_placement": "1x1", "format": "keras-weights-h5",
        "files": {"top": {"file_name": weights_file, "urls": [], "hash": f"sha256:{digest}",
                          "package": True}},
        "preprocessing": {"mode": "pixel_mean", "channel_order": "gray" if mean.shape[-1] == 1
                          else "RGB", "scale": 1 / 255, "mean_file": mean_file, "std": None},
        "resize": None, "crop": None, "classes": int(test.num_classes),
        "metrics": {"top1": round(100 * result["top1_accuracy"], 2),
                    "top5": round(100 * (1 - result["top5_error"]), 2),
                    "protocol": f"{args.dataset_name} test set ({result['examples']} images), "
                                "single view, as trained (no resize)",
                    "source": "measured by scripts/register_weights.py (keras_resnet.evaluation)"},
        "origin": f"trained in this repository ({args.run})",
        "license": "MIT",
        "input_shape": list(mean.shape),
        "class_names": list(test.class_names) if test.class_names else None,
        "command": args.command,
    }
    path = os.path.join(WEIGHTS, "registry.json")
    with open(path) as f:
        registry = json.load(f)
    registry[args.tag] = entry
    with open(path, "w") as f:
        json.dump(registry, f, indent=2)
        f.write("\n")
    print(json.dumps({args.tag: entry["metrics"]}, indent=2))


if __name__ == "__main__":
    main()

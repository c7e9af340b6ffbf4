"""keras-tuner search over depth, width, shortcut option, learning rate and weight
decay of the paper's CIFAR-style networks, on the embedded Fashion-MNIST sample.

    python examples/tune.py --max-trials 8 --epochs 5
    python examples/tune.py --smoke
"""

import argparse
import json

from keras_resnet.training.tuning import tune


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--algorithm", choices=["random", "hyperband"], default="random")
    p.add_argument("--out", default="runs/tune_example")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)
    options = {}
    if args.smoke:
        args.max_trials, args.epochs = 2, 2
        options = dict(max_train_examples=1500, max_val_examples=400)
    result = tune("embedded", algorithm=args.algorithm, max_trials=args.max_trials,
                  epochs=args.epochs, out=args.out, ns=(1, 2), shortcuts=("A", "B"),
                  overwrite=True, **options)
    print(json.dumps({k: result[k] for k in ("best_hyperparameters", "best_val_accuracy")},
                     indent=2))
    return result


if __name__ == "__main__":
    main()

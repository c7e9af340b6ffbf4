"""Write keras_resnet/pretrained/imagenet_classes.json: the 1000 ImageNet-1k classes in the
order every released ResNet uses (sorted WordNet ids), each with two names.

Sources, both offline:
* the synset ids and their order: the label file that tensorflow-datasets ships for
  imagenet2012 (``tensorflow_datasets/datasets/imagenet2012/labels.txt``);
* the names: WordNet 3.0 (Debian package ``wordnet-base``,
  /usr/share/wordnet/data.noun). An ImageNet id ``n01440764`` is the noun synset at
  byte offset 01440764 of that file.

Names: keras.applications' (its imagenet_class_index.json): the synset's first lemma as
WordNet writes it, underscores for spaces ("toilet_tissue", "Granny_Smith"), duplicates
kept (two "crane"s, two "maillot"s). And a readable one: spaces, and where synsets share
a first lemma the first lemma of the synset's hypernym added ("crane (wading bird)"),
so every readable name is unique.

Run: python scripts/make_imagenet_class_index.py [--wordnet /usr/share/wordnet/data.noun]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "keras_resnet", "pretrained", "imagenet_classes.json")


def tfds_synsets() -> list[str]:
    import tensorflow_datasets as tfds  # noqa: F401  (located, not run)

    path = os.path.join(os.path.dirname(tfds.__file__), "datasets", "imagenet2012",
                        "labels.txt")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def wordnet_lemmas(data_noun: str, offsets: set[str]) -> dict[str, tuple]:
    """(lemmas, hypernym offset) of the noun synsets at the given 8-digit offsets."""
    found = {}
    with open(data_noun, encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):  # licence header
                continue
            fields = line.split()
            offset = fields[0]
            if offset not in offsets:
                continue
            count = int(fields[3], 16)  # lemma count is hexadecimal
            lemmas = [fields[4 + 2 * i] for i in range(count)]
            pointers = fields[5 + 2 * count:]
            hypernym = next((pointers[i + 1] for i in range(0, len(pointers) - 3, 4)
                             if pointers[i] == "@" and pointers[i + 2] == "n"), None)
            found[offset] = (lemmas, hypernym)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", default="/usr/share/wordnet/data.noun")
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    if not os.path.exists(args.wordnet):
        sys.exit(f"{args.wordnet} not found: install Debian's wordnet-base "
                 "(apt-get install wordnet-base) or pass --wordnet")
    synsets = tfds_synsets()
    assert len(synsets) == 1000 and synsets == sorted(synsets), "unexpected label file"
    lemmas = wordnet_lemmas(args.wordnet, {s[1:] for s in synsets})
    missing = [s for s in synsets if s[1:] not in lemmas]
    if missing:
        sys.exit(f"{len(missing)} synsets not in WordNet 3.0: {missing[:5]}")
    names = [lemmas[s[1:]][0][0] for s in synsets]
    clashes = {n for n, c in collections.Counter(names).items() if c > 1}
    parents = wordnet_lemmas(args.wordnet, {lemmas[s[1:]][1] for s in synsets
                                            if lemmas[s[1:]][0][0] in clashes})
    for i, s in enumerate(synsets):
        if names[i] in clashes:
            names[i] = f"{names[i]} ({parents[lemmas[s[1:]][1]][0][0]})"
    readable = [n.replace("_", " ") for n in names]
    assert len(set(readable)) == 1000, "readable class names are not unique"
    keras_names = [lemmas[s[1:]][0][0] for s in synsets]
    about = ("ImageNet-1k classes in model output order: [WordNet id, keras.applications "
             "name, readable name]. Made by scripts/make_imagenet_class_index.py from "
             "tensorflow-datasets' imagenet2012 labels.txt and WordNet 3.0 (first lemma).")
    rows = ",\n".join(json.dumps([s, k, n])
                       for s, k, n in zip(synsets, keras_names, readable))
    with open(args.out, "w") as f:
        f.write(f'{{"_about": {json.dumps(about)},\n"classes": [\n{rows}\n]}}\n')
    print(f"wrote {args.out}: {len(names)} classes")


if __name__ == "__main__":
    main()

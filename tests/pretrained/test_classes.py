"""The shipped ImageNet class index and decode_predictions."""

import collections
import os

import numpy as np
import pytest

import keras_resnet
from keras_resnet.pretrained.classes import decode_predictions, imagenet_classes
from keras_resnet.data import FASHION_MNIST_CLASSES


def tfds_imagenet_labels():
    import tensorflow_datasets as tfds

    path = os.path.join(os.path.dirname(tfds.__file__), "datasets", "imagenet2012",
                        "labels.txt")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def test_class_index_matches_tensorflow_datasets_label_file():
    """An independent source on disk: the imagenet2012 label file TFDS ships."""
    ours = imagenet_classes()
    assert len(ours) == 1000
    assert [wnid for wnid, _ in ours] == tfds_imagenet_labels()
    assert [wnid for wnid, _ in imagenet_classes("readable")] == tfds_imagenet_labels()
    readable = [name for _, name in imagenet_classes("readable")]
    assert len(set(readable)) == 1000 and all(readable)
    # keras.applications' strings at well-known indices (the classes of every ImageNet model)
    assert ours[0] == ("n01440764", "tench")
    assert ours[207][1] == "golden_retriever"
    assert ours[999][1] == "toilet_tissue" and ours[948][1] == "Granny_Smith"
    assert ours[712][1] == "Petri_dish" and ours[707][1] == "pay-phone"
    # duplicates kept as keras.applications has them; the readable names tell them apart
    names = [name for _, name in ours]
    assert [i for i, n in enumerate(names) if n == "crane"] == [134, 517]
    assert [i for i, n in enumerate(names) if n == "maillot"] == [638, 639]
    assert {n for n, c in collections.Counter(names).items() if c > 1} == {"crane", "maillot"}
    assert readable[134] == "crane (wading bird)" and readable[999] == "toilet tissue"
    with pytest.raises(ValueError, match="names must be one of"):
        imagenet_classes("pretty")


WORDNET = "/usr/share/wordnet/data.noun"


@pytest.mark.skipif(not os.path.exists(WORDNET), reason="Debian wordnet-base not installed")
def test_every_name_follows_the_rule_from_wordnet():
    """keras.applications' rule, checked on all 1000 from the source data: the first
    lemma of the synset, underscores for spaces; readable names: a lemma with spaces."""
    lemmas = {}
    with open(WORDNET, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("  "):
                fields = line.split()
                n = int(fields[3], 16)
                lemmas[fields[0]] = [fields[4 + 2 * i] for i in range(n)]
    for wnid, name in imagenet_classes():
        assert name == lemmas[wnid[1:]][0].replace(" ", "_"), (wnid, name)
    for wnid, name in imagenet_classes("readable"):
        assert name.split(" (")[0] in {l.replace("_", " ") for l in lemmas[wnid[1:]]}


def test_decode_predictions_ranks_and_names():
    rng = np.random.default_rng(0)
    p = rng.random((2, 1000)).astype("float32")
    p[0, 207], p[0, 0] = 5.0, 4.0
    p[1, 999] = 3.0
    decoded = keras_resnet.decode_predictions(p, top=3)
    assert [d[:2] for d in decoded[0][:2]] == [("n02099601", "golden_retriever"),
                                               ("n01440764", "tench")]
    assert decoded[0][0][2] == 5.0
    assert decoded[1][0][1] == "toilet_tissue" and len(decoded[1]) == 3
    readable = keras_resnet.decode_predictions(p, top=1, names="readable")
    assert readable[1][0][1] == "toilet tissue"
    scores = [s for _, _, s in decoded[0]]
    assert scores == sorted(scores, reverse=True)


def test_decode_predictions_with_own_class_names_and_errors():
    p = np.eye(10, dtype="float32")[[9, 0]]
    out = decode_predictions(p, top=2, classes=FASHION_MNIST_CLASSES)
    assert out[0][0] == (9, FASHION_MNIST_CLASSES[9], 1.0)
    assert out[1][0][:2] == (0, FASHION_MNIST_CLASSES[0])
    with pytest.raises(ValueError, match="not ImageNet's 1000"):
        decode_predictions(p)
    with pytest.raises(ValueError, match="10 classes but 3 names"):
        decode_predictions(p, classes=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        decode_predictions(np.zeros(1000))

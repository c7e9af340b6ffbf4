"""--max-train-examples / --max-test-examples on an image folder, whose files are
listed class by class: the cut is a seeded random choice over every class, not the
first classes' files."""

import pytest

from keras_resnet.training import TrainConfig
from keras_resnet.training.run import _load_data, _split_holdout
from keras_resnet.training.state import RunState
from tests.helpers import write_image_folder

CLASSES = tuple(f"c{i}" for i in range(10))


@pytest.fixture(scope="module")
def sorted_folder(tmp_path_factory):
    """train/ and test/ with 4 tiny grey PNGs in each of 10 class folders."""
    root = tmp_path_factory.mktemp("sorted")
    write_image_folder(root, per_class=4, size=(8, 8), kinds=("png8_grey",),
                       classes=CLASSES)
    return str(root)


def loaded(folder, **options):
    run = RunState(TrainConfig("resnet8", folder, **options), verbose=0, plot=False,
                   fused_bn=False)
    _load_data(run)
    _split_holdout(run)
    return run


def classes_of(split):
    return set(split.files[1])


def test_example_cuts_cover_most_classes_and_repeat_for_the_seed(sorted_folder):
    run = loaded(sorted_folder, holdout=0, max_train_examples=12, max_test_examples=12)
    assert run.full_train.size == run.test_split.size == 12
    # the first 12 files would be classes 0, 1 and 2 only
    assert len(classes_of(run.test_split)) >= 6
    assert len(classes_of(run.full_train)) >= 6
    again = loaded(sorted_folder, holdout=0, max_train_examples=12, max_test_examples=12)
    assert again.test_split.files == run.test_split.files  # a rerun scores the same images
    assert again.full_train.files == run.full_train.files
    other = loaded(sorted_folder, holdout=0, max_test_examples=12, seed=1)
    assert other.test_split.files != run.test_split.files


def test_the_holdout_cut_covers_most_classes(sorted_folder):
    # the holdout holds 2 files of every class, listed class by class: its first 8
    # would be 4 classes
    run = loaded(sorted_folder, holdout=20, max_test_examples=8)
    assert run.val_split.size == 8 and len(classes_of(run.val_split)) >= 6

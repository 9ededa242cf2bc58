"""The COCO captioning entries of ``cs231n data``: where the real set comes from and
how a folder of it (real or embedded) is checked.

The real set is the course's preprocessed COCO 2014 captioning archive,
``coco_captioning.zip``, whose top folder ``coco_captioning/`` holds the files
``coco_utils.load_coco_data`` reads. The course publishes no checksum for it, so the
registry entry has none: the unpacked folder is verified by loading every file
(``check_coco``) before it is placed, and a checksum can be pinned with
``--checksum`` or ``CS231N_COCO_CHECKSUM`` (e.g. for a mirror).
"""

from pathlib import Path

from cs231n import coco_utils
from cs231n.data import embedded_coco

COCO_FOLDER = coco_utils.COCO_FOLDER
COCO_URL = "http://cs231n.stanford.edu/coco_captioning.zip"
COCO_ARCHIVE = "coco_captioning.zip"
COCO_DESCRIPTION = (
    "COCO 2014 captioning as preprocessed by the course: captions, vocabulary, "
    "VGG-16 fc7 features (full and PCA-512) and image URLs (a large download)"
)


def _summary(data):
    return (
        f"{len(data['train_captions'])} training and {len(data['val_captions'])} validation "
        f"captions of {len(data['train_features'])} + {len(data['val_features'])} images, "
        f"{len(data['idx_to_word'])} words, {data['train_features'].shape[1]}-d features"
    )


def check_coco(path):
    """Load every file of a real COCO captioning folder; raise with the first problem."""
    path = Path(path)
    if embedded_coco.embedded_version(path) is not None:
        raise ValueError(f"{path} holds the embedded stand-in, not the real COCO captioning set.")
    data = coco_utils.load_coco_data(path, pca_features=True)
    summary = _summary(data)
    for split in coco_utils.SPLITS:  # the full features: opened, shape checked, not loaded
        name = f"{split}2014_vgg16_fc7.h5"
        with coco_utils._open_h5(path / name) as f:
            if "features" not in f or f["features"].ndim != 2:
                raise ValueError(f"{path / name} lacks a 2-d dataset 'features'.")
            num_images = f["features"].shape[0]
        if num_images != len(data[f"{split}_features"]):
            raise ValueError(f"{path}: {name} and its PCA file cover different numbers of images.")
    return summary


def check_embedded_coco(path):
    """Check a generated embedded folder: current generator version, every file loads."""
    if not embedded_coco.is_current(path):
        raise ValueError(f"{path} is missing, incomplete or from an older generator version.")
    data = coco_utils.load_coco_data(path)
    return f"{_summary(data)} (generator v{embedded_coco.GENERATOR_VERSION})"


def generate(path, force=False):
    """Generate (or, with force, regenerate) the embedded set at path."""
    sizes = embedded_coco.NUM_TRAIN_IMAGES, embedded_coco.NUM_VAL_IMAGES
    return embedded_coco.ensure_embedded_coco(path, *sizes, force=force)

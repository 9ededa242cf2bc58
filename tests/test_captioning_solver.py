"""CaptioningSolver: the Solver's options and contract on a COCO-style data dict."""

import pickle

import numpy as np
import pytest

from cs231n.captioning_solver import CaptioningSolver
from cs231n.classifiers.rnn import CaptioningRNN

VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "cat": 4, "dog": 5}


def tiny_data(rng, n_images=6, caps_per_image=2, D=8):
    """Captions that depend on the image: image i says "a cat" or "a dog". The val split
    is a copy of the train split (measuring its loss is what is tested, not generalising).
    """
    idxs = np.repeat(np.arange(n_images), caps_per_image).astype(np.int32)
    animal = np.where(idxs % 2 == 0, VOCAB["cat"], VOCAB["dog"])
    captions = np.zeros((len(idxs), 5), dtype=np.int32)  # <START> a cat|dog <END> <NULL>
    captions[:, 0], captions[:, 1], captions[:, 2], captions[:, 3] = 1, 3, animal, 2
    features = rng.standard_normal((n_images, D)).astype(np.float32)
    features[:, 0] = np.where(np.arange(n_images) % 2 == 0, 3.0, -3.0)
    data = {"train_captions": captions, "train_image_idxs": idxs, "train_features": features}
    data.update({k.replace("train", "val"): v.copy() for k, v in data.items()})
    return data


def make_model(cell_type="lstm"):
    return CaptioningRNN(
        VOCAB, input_dim=8, wordvec_dim=8, hidden_dim=16, cell_type=cell_type, seed=0
    )


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_training_learns_the_captions(cell_type, rng):
    data = tiny_data(rng)
    model = make_model(cell_type)
    solver = CaptioningSolver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=6,
        num_epochs=60,
        num_train_samples=None,
        num_val_samples=None,
        verbose=False,
        seed=0,
    )
    solver.train()
    assert len(solver.loss_history) == 60 * 2  # 12 captions / batch 6 = 2 iterations per epoch
    assert solver.loss_history[-1] < 0.05 < solver.loss_history[0]
    assert len(solver.val_loss_history) == 61  # after the first iteration and each epoch
    assert solver.val_loss_history[-1] < 0.05
    sampled = model.sample(data["val_features"], max_length=4)
    np.testing.assert_array_equal(sampled[:, :3], data["val_captions"][::2, 1:4])


def test_seed_makes_training_reproducible(rng):
    data = tiny_data(rng)
    histories = []
    for _ in range(2):
        solver = CaptioningSolver(make_model(), data, num_epochs=3, verbose=False, seed=5)
        solver.train()
        histories.append(solver.loss_history)
    assert histories[0] == histories[1]


def test_lr_decay_and_checkpoints(rng, tmp_path, capsys):
    data = tiny_data(rng)
    solver = CaptioningSolver(
        make_model(),
        data,
        optim_config={"learning_rate": 0.1},
        lr_decay=0.5,
        batch_size=4,
        num_epochs=2,
        checkpoint_name=str(tmp_path / "ck"),
        print_every=1,
        seed=0,
    )
    solver.train()
    assert solver.optim_configs["Wx"]["learning_rate"] == pytest.approx(0.1 * 0.5**2)
    with open(tmp_path / "ck_epoch_2.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert checkpoint["epoch"] == 2 and len(checkpoint["loss_history"]) == 6
    assert "(Iteration 1 / 6) loss:" in capsys.readouterr().out


def test_errors(rng):
    data = tiny_data(rng)
    with pytest.raises(KeyError, match="missing \\['train_features'\\]"):
        CaptioningSolver(make_model(), {k: v for k, v in data.items() if k != "train_features"})
    with pytest.raises(ValueError, match="unrecognized arguments learning_rate"):
        CaptioningSolver(make_model(), data, learning_rate=1e-3)
    with pytest.raises(ValueError, match='unknown update rule "adagrad"'):
        CaptioningSolver(make_model(), data, update_rule="adagrad")
    with pytest.raises(TypeError, match="params"):
        CaptioningSolver(object(), data)

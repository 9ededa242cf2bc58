"""Tests for cs231n/captioning_metrics.py: BLEU against values computed by hand.

(The implementation was also compared with nltk's corpus_bleu on 300 random corpora
while it was written; nltk is not a dependency, so the tests use hand computations.)
"""

import math

import numpy as np
import pytest

from cs231n.captioning_metrics import (
    corpus_bleu,
    evaluate_captions,
    loss_by_position,
    ngrams,
    sentence_bleu,
)
from cs231n.classifiers.rnn import CaptioningRNN

CAT = "the cat sat on the mat"
CAT_REF = "the cat is on the mat"


def test_ngrams_counts_repeats():
    assert ngrams("a b a b".split(), 2) == {("a", "b"): 2, ("b", "a"): 1}
    assert ngrams(["a"], 2) == {}


def test_modified_precisions_by_hand():
    # unigrams: the x2, cat, on, mat match; sat does not -> 5/6
    # bigrams: "the cat", "on the", "the mat" of 5 -> 3/5
    assert corpus_bleu([CAT], [[CAT_REF]], max_n=1) == pytest.approx(5 / 6)
    assert corpus_bleu([CAT], [[CAT_REF]], max_n=2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))


def test_no_four_gram_match_gives_zero_unless_smoothed():
    # trigrams: only "on the mat" of 4 -> 1/4; 4-grams: none of 3 -> BLEU-4 = 0
    assert corpus_bleu([CAT], [[CAT_REF]]) == 0.0
    # add-one smoothing for n >= 2: (5/6 * 4/6 * 2/5 * 1/4) ** (1/4)
    expected = (5 / 6 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25
    assert sentence_bleu(CAT, [CAT_REF]) == pytest.approx(expected)


def test_clipping():
    # "the" occurs once in the reference: only one of the four counts
    assert corpus_bleu(["the the the the"], [["the cat"]], max_n=1) == pytest.approx(1 / 4)


def test_brevity_penalty():
    ref = "a red circle left of a blue square"  # 8 words
    cand = "a red circle left of a"  # 6 words, every n-gram matches
    assert corpus_bleu([cand], [[ref]]) == pytest.approx(math.exp(1 - 8 / 6))
    # Longer than the reference: no penalty (precision already pays for extra words).
    assert corpus_bleu([ref], [[ref]]) == pytest.approx(1.0)


def test_closest_reference_length_and_ties():
    refs = ["a b c d", "a b c d e f"]  # lengths 4 and 6
    # A 5-word candidate is as close to 4 as to 6: the shorter wins, so no penalty.
    assert corpus_bleu(["a b c d e"], [refs], max_n=1) == pytest.approx(1.0)
    # Against the 6-word reference alone it is penalised.
    assert corpus_bleu(["a b c d e"], [refs[1:]], max_n=1) == pytest.approx(math.exp(1 - 6 / 5))


def test_multiple_references_each_ngram_counted_against_best_reference():
    refs = ["a red circle", "a blue circle"]
    assert corpus_bleu(["a blue circle"], [refs], max_n=2) == pytest.approx(1.0)
    # "circle circle": at most one "circle" in any single reference -> 1/2, and the
    # candidate (2 words) is shorter than the references (3): BP = exp(1 - 3/2)
    assert corpus_bleu(["circle circle"], [refs], max_n=1) == pytest.approx(0.5 * math.exp(-0.5))


def test_corpus_level_pools_counts():
    # Pooled: unigrams 7/8, bigrams 4/6, trigrams 2/4, 4-grams 1/2; not the mean of
    # the sentence scores (1 and 0).
    bleu = corpus_bleu(["a b c d", "e f g h"], [["a b c d"], ["e f x h"]])
    assert bleu == pytest.approx((7 / 8 * 4 / 6 * 2 / 4 * 1 / 2) ** 0.25)


def test_accepts_word_lists_and_rejects_mismatched_lengths():
    assert corpus_bleu([CAT.split()], [[CAT_REF.split()]], max_n=2) == pytest.approx(
        math.sqrt(1 / 2)
    )
    with pytest.raises(ValueError, match="one list per candidate"):
        corpus_bleu([CAT, CAT], [[CAT_REF]])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_bleu([CAT], [[]])


# ---------------------------------------------------------------------------
# Evaluating a model on a data dict
# ---------------------------------------------------------------------------

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "blue", "circle"]


def caption_data():
    """Two images with two reference captions each (rows of word indices)."""
    captions = np.array(
        [
            [1, 4, 5, 7, 2, 0],  # image 0: a red circle
            [1, 5, 7, 2, 0, 0],  # image 0: red circle
            [1, 4, 6, 7, 2, 0],  # image 1: a blue circle
            [1, 6, 7, 2, 0, 0],  # image 1: blue circle
        ]
    )
    return {
        "val_captions": captions,
        "val_image_idxs": np.array([0, 0, 1, 1]),
        "val_features": np.eye(2),
        "idx_to_word": WORDS,
        "word_to_idx": {w: i for i, w in enumerate(WORDS)},
    }


class FixedSampler:
    """A 'model' whose samples are given: image i gets rows[i]."""

    def __init__(self, rows):
        self.rows = np.array(rows)

    def sample(self, features, max_length=30):
        idx = features.argmax(axis=1)
        return self.rows[idx][:, :max_length]


def test_evaluate_captions():
    data = caption_data()
    perfect = FixedSampler([[4, 5, 7, 2, 0], [6, 7, 2, 0, 0]])  # "a red circle", "blue circle"
    result = evaluate_captions(perfect, data, "val")
    assert result["captions"] == ["a red circle", "blue circle"]
    assert result["exact"] == 1.0 and result["image_idxs"] == [0, 1]
    # BLEU-4 of captions shorter than 4 words has no 4-grams: 0 (see corpus_bleu).
    assert result["bleu4"] == 0.0
    wrong = FixedSampler([[4, 6, 7, 2, 0], [6, 7, 2, 0, 0]])  # image 0 called blue
    result = evaluate_captions(wrong, data, "val", num_images=1)
    assert result["captions"] == ["a blue circle"] and result["exact"] == 0.0
    assert result["references"] == [["a red circle", "red circle"]]


def test_loss_by_position_adds_up_to_the_loss():
    data = caption_data()
    data["val_features"] = np.random.default_rng(0).standard_normal((2, 3))
    model = CaptioningRNN(
        data["word_to_idx"], input_dim=3, wordvec_dim=4, hidden_dim=5, dtype=np.float64, seed=0
    )
    per_word = loss_by_position(model, data, "val")
    present = (data["val_captions"][:, 1:] != 0).mean(axis=0)
    features = data["val_features"][data["val_image_idxs"]]
    total = model.loss(features, data["val_captions"])[0]
    assert np.nansum(per_word * present) == pytest.approx(total)
    assert per_word.shape == (5,) and np.isnan(per_word[-1])  # no caption has a 5th word

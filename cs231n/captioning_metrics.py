"""BLEU: how well generated captions match human (reference) captions.

BLEU (Papineni et al., 2002) compares the n-grams of a candidate caption with those
of one or more reference captions of the same image:

- the *modified n-gram precision* p_n is the fraction of the candidate's n-grams
  that also occur in a reference, each n-gram counted at most as many times as it
  occurs in the single reference where it is most frequent ("clipping": "the the
  the" does not score three hits against "the cat");
- the *brevity penalty* BP = exp(1 - r / c) when the candidates are shorter in total
  (c words) than their closest-length references (r words), and 1 otherwise,
  because precision alone rewards saying little;
- BLEU-N = BP * exp(sum_{n=1..N} log(p_n) / N), the geometric mean of p_1 ... p_N.

At the corpus level (what papers report) the clipped counts, the candidate counts and
the lengths are summed over all captions before dividing; it is not the average of
per-caption scores. BLEU lies in [0, 1]; it is 0 when some order n has no match.

Two helpers evaluate a captioning model on a COCO data dict: ``evaluate_captions``
(greedy captions for the images of a split, their BLEU-4 and exact-match rate) and
``loss_by_position`` (the teacher-forced loss of each word position, which shows where
in a caption a model loses track of the image).
"""

import math
from collections import Counter

import numpy as np

__all__ = ["ngrams", "corpus_bleu", "sentence_bleu", "evaluate_captions", "loss_by_position"]


def ngrams(words, n):
    """Counter of the n-grams (tuples of n words) of a list of words."""
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _as_words(caption):
    if isinstance(caption, str):
        return caption.split()
    return list(caption)


def _closest_ref_length(c, ref_lengths):
    """The reference length closest to c; on a tie, the shorter one."""
    return min(ref_lengths, key=lambda r: (abs(r - c), r))


def bleu_statistics(candidate, references, max_n=4):
    """Sufficient statistics of one candidate: clipped matches and totals per order.

    Returns
    -------
    matches : list of max_n ints, clipped n-gram matches for n = 1 .. max_n
    totals : list of max_n ints, number of n-grams of the candidate
    c : int, candidate length
    r : int, closest reference length
    """
    cand = _as_words(candidate)
    refs = [_as_words(r) for r in references]
    if not refs:
        raise ValueError("BLEU: every candidate needs at least one reference caption.")
    matches, totals = [], []
    for n in range(1, max_n + 1):
        cand_counts = ngrams(cand, n)
        max_ref = Counter()
        for ref in refs:
            max_ref |= ngrams(ref, n)  # elementwise max over references
        matches.append(sum(min(k, max_ref[g]) for g, k in cand_counts.items()))
        totals.append(max(len(cand) - n + 1, 0))
    return matches, totals, len(cand), _closest_ref_length(len(cand), [len(r) for r in refs])


def corpus_bleu(candidates, references, max_n=4, smooth=False):
    """Corpus-level BLEU-``max_n`` of candidate captions against their references.

    Parameters
    ----------
    candidates : list of captions; a caption is a string of space-separated words
        or a list of words (decode with ``coco_utils.decode_captions`` and strip the
        <START> / <END> tokens first)
    references : list of the same length; references[i] is a list of reference
        captions of the image of candidates[i]
    max_n : int, highest n-gram order (4 for BLEU-4)
    smooth : bool, add one to the matches and totals of orders n >= 2 (Lin and Och,
        2004), so that a single short caption does not score 0; off for corpus scores

    Returns
    -------
    bleu : float in [0, 1]
    """
    if len(candidates) != len(references):
        raise ValueError(
            f"corpus_bleu: got {len(candidates)} candidates but {len(references)} "
            "lists of references; there must be one list per candidate."
        )
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for cand, refs in zip(candidates, references):
        m, t, c_i, r_i = bleu_statistics(cand, refs, max_n)
        matches = [a + b for a, b in zip(matches, m)]
        totals = [a + b for a, b in zip(totals, t)]
        c += c_i
        r += r_i
    if c == 0:
        return 0.0
    log_p = 0.0
    for n in range(max_n):
        num, den = matches[n], totals[n]
        if smooth and n > 0:
            num, den = num + 1, den + 1
        if num == 0 or den == 0:
            return 0.0
        log_p += math.log(num / den) / max_n
    brevity_penalty = 1.0 if c > r else math.exp(1 - r / c)
    return brevity_penalty * math.exp(log_p)


def sentence_bleu(candidate, references, max_n=4, smooth=True):
    """BLEU of one caption against its references (smoothed by default; see corpus_bleu)."""
    return corpus_bleu([candidate], [references], max_n=max_n, smooth=smooth)


def evaluate_captions(model, data, split="val", num_images=None, max_length=None, batch_size=500):
    """Caption the images of a split greedily and score the captions with BLEU-4.

    Every image is captioned once (not once per reference caption) and compared with
    all of its reference captions.

    Parameters
    ----------
    model : a captioning model with ``sample(features, max_length)``
    data : dict from ``coco_utils.load_coco_data``
    split : "train" or "val"
    num_images : int or None, caption only the first this many images of the split
    max_length : int or None, longest caption to sample (default: the length of the
        data's caption rows minus one, i.e. every word plus <END>)
    batch_size : int, images sampled at once

    Returns
    -------
    result : dict with
        bleu4 : float, corpus BLEU-4 of the sampled captions
        exact : float, fraction of sampled captions that equal one of the references
        image_idxs : list of the image indices captioned
        captions : list of the sampled captions (strings, without special tokens)
        references : list of lists of reference captions
    """
    from cs231n.coco_utils import decode_captions, references_by_image, strip_special_tokens

    refs = references_by_image(data, split)
    image_idxs = sorted(refs)[:num_images]
    if max_length is None:
        max_length = data[f"{split}_captions"].shape[1] - 1
    captions = []
    for start in range(0, len(image_idxs), batch_size):
        batch = image_idxs[start : start + batch_size]
        sampled = model.sample(data[f"{split}_features"][batch], max_length=max_length)
        captions += [strip_special_tokens(c) for c in decode_captions(sampled, data["idx_to_word"])]
    references = [refs[i] for i in image_idxs]
    exact = sum(c in r for c, r in zip(captions, references)) / max(len(captions), 1)
    return {
        "bleu4": corpus_bleu(captions, references),
        "exact": exact,
        "image_idxs": image_idxs,
        "captions": captions,
        "references": references,
    }


def loss_by_position(model, data, split="val", num_captions=1000):
    """Average cross-entropy of the ground-truth word at each position of the captions.

    With teacher forcing the model predicts word t + 1 from the image and words 0..t.
    The loss of captions cut after t + 1 tokens minus the loss cut after t tokens is
    the loss at position t; dividing by the fraction of captions that have a word
    there gives nats per word. Only ``model.loss`` is used.

    Parameters
    ----------
    model : a captioning model with ``loss(features, captions)`` (sum over time, mean over N)
    data : dict from ``coco_utils.load_coco_data``
    split : "train" or "val"
    num_captions : int, use the first this many captions of the split

    Returns
    -------
    per_word : ndarray of shape (T - 1,), nats per word at each position; position 0
        is the first word after <START>; NaN where no caption is that long
    """
    captions = data[f"{split}_captions"][:num_captions]
    features = data[f"{split}_features"][data[f"{split}_image_idxs"][:num_captions]]
    null = data["word_to_idx"]["<NULL>"]
    totals = [0.0] + [
        model.loss(features, captions[:, : t + 1])[0] for t in range(1, captions.shape[1])
    ]
    present = (captions[:, 1:] != null).mean(axis=0)  # (T - 1,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present > 0, np.diff(totals) / present, np.nan)

"""CaptioningTransformer: a Transformer decoder that writes a caption for an image.

The image feature vector is projected to one E-dimensional "memory" position. The
caption's words are embedded, the positional encoding is added, and a stack of
decoder layers lets every position attend to the words before it (self-attention
under a causal mask) and to the image (cross-attention). An affine layer turns each
position into scores over the vocabulary:

    features --affine--> memory (N, 1, E)
    inputs  <START> w1 ... wn --embed + position--> decoder layers x L --affine--> scores
    targets w1      w2 ... <END> ------------------------------------------> softmax loss

Unlike the RNN, all positions are computed at once in training (teacher forcing with a
mask instead of a loop). Sampling is still one word at a time: the caption so far goes
through the decoder, and the most likely next word is appended.

The model follows the Solver contract (``params`` dict, ``loss`` returning
``(loss, grads)``) and is trained by ``cs231n.captioning_solver.CaptioningSolver``.
"""

import numpy as np

from cs231n._checks import check_ndim
from cs231n._random import generator
from cs231n.classifiers._saving import SaveLoad
from cs231n.rnn_layers import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from cs231n.transformer_layers import (
    DECODER_LAYER_PARAMS,
    causal_mask,
    decoder_layer_backward,
    decoder_layer_forward,
    positional_encoding_backward,
    positional_encoding_forward,
)

__all__ = ["CaptioningTransformer"]


class CaptioningTransformer(SaveLoad):
    """A Transformer decoder that captions images.

    Parameters
    ----------
    word_to_idx : dict mapping each of the V words to an index in [0, V); it must
        contain "<NULL>" (padding), and "<START>" and "<END>" to sample
    input_dim : int D, dimension of the image feature vectors
    wordvec_dim : int E, the width of every position (word vectors, attention)
    num_heads : int, attention heads per layer (dividing E)
    num_layers : int L, decoder layers
    ffn_dim : int F, hidden width of the feed-forward networks (default 4 E)
    dropout_keep_ratio : float in (0, 1], probability of keeping a unit in every
        dropout (1: no dropout)
    max_length : int, the longest sequence the model accepts
    dtype : numpy float type of the parameters (float64 for gradient checks)
    seed : int or None; an int seeds the initial weights (a generator of the model's
        own) and makes the dropout masks repeatable; None draws the weights from numpy's
        global random state

    Attributes
    ----------
    params : dict of parameters
        W_embed (V, E) word vectors; W_proj (D, E), b_proj (E,) image to memory;
        ``layer{l}_<name>`` for each name of ``DECODER_LAYER_PARAMS`` and l in 1..L;
        W_vocab (E, V), b_vocab (V,) positions to scores
    """

    def __init__(
        self,
        word_to_idx,
        input_dim=512,
        wordvec_dim=64,
        num_heads=4,
        num_layers=2,
        ffn_dim=None,
        dropout_keep_ratio=1.0,
        max_length=50,
        dtype=np.float32,
        seed=None,
    ):
        if "<NULL>" not in word_to_idx:
            raise ValueError(
                'CaptioningTransformer: word_to_idx must contain the padding token "<NULL>".'
            )
        E = wordvec_dim
        if E % num_heads or E % 2:
            raise ValueError(
                f"CaptioningTransformer: wordvec_dim={E} must be even and divisible by "
                f"num_heads={num_heads}."
            )
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(
                "CaptioningTransformer: dropout_keep_ratio is the probability of keeping "
                f"a unit, in (0, 1]; got {dropout_keep_ratio}."
            )
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.max_length = max_length
        self.dtype = dtype
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")
        self.dropout_param = None
        if dropout_keep_ratio < 1:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        # As every model here: an int seeds a generator of its own; None draws from
        # numpy's global random state (np.random.seed makes that reproducible).
        rng = generator(seed)
        V, F = len(word_to_idx), ffn_dim or 4 * E

        def weights(fan_in, fan_out):
            # Scaled so that each affine layer keeps its input's variance (Xavier).
            return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)

        self.params = {
            "W_embed": rng.standard_normal((V, E)) / np.sqrt(E),
            "W_proj": weights(input_dim, E),
            "b_proj": np.zeros(E),
        }
        for layer in range(1, num_layers + 1):
            for name in DECODER_LAYER_PARAMS:
                kind = name.split("_")[-1]
                if name.startswith("ffn_"):
                    shape = {"W1": (E, F), "b1": (F,), "W2": (F, E), "b2": (E,)}[kind]
                elif name.startswith("ln"):
                    shape = (E,)
                else:
                    shape = (E, E) if kind.startswith("W") else (E,)
                if kind == "gamma":
                    value = np.ones(shape)
                elif len(shape) == 2:
                    value = weights(*shape)
                else:
                    value = np.zeros(shape)
                self.params[f"layer{layer}_{name}"] = value
        self.params["W_vocab"] = weights(E, V)
        self.params["b_vocab"] = np.zeros(V)
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def _layer_params(self, layer):
        prefix = f"layer{layer}_"
        return {name: self.params[prefix + name] for name in DECODER_LAYER_PARAMS}

    def _check_features(self, func, features):
        check_ndim(func, "features", features, 2)
        D = self.params["W_proj"].shape[0]
        if features.shape[1] != D:
            raise ValueError(
                f"{func}: the model expects features of dimension {D} (input_dim), "
                f"got features of shape {features.shape}."
            )

    def _forward(self, features, captions_in, dropout_param):
        """Scores (N, T, V) for every position of ``captions_in`` (N, T), and the caches."""
        memory, proj_cache = temporal_affine_forward(
            features[:, None, :].astype(self.dtype, copy=False),
            self.params["W_proj"],
            self.params["b_proj"],
        )  # (N, 1, E)
        x, embed_cache = word_embedding_forward(captions_in, self.params["W_embed"])
        x, pos_cache = positional_encoding_forward(x, dropout_param)  # (N, T, E)
        mask = causal_mask(captions_in.shape[1])
        layer_caches = []
        for layer in range(1, self.num_layers + 1):
            x, cache = decoder_layer_forward(
                x, memory, self._layer_params(layer), self.num_heads, mask, dropout_param
            )
            layer_caches.append(cache)
        scores, vocab_cache = temporal_affine_forward(
            x, self.params["W_vocab"], self.params["b_vocab"]
        )
        return scores, (proj_cache, embed_cache, pos_cache, layer_caches, vocab_cache)

    def loss(self, features, captions):
        """Training-time loss and gradients on a minibatch (teacher forcing).

        Parameters
        ----------
        features : ndarray of shape (N, D), image features
        captions : integer ndarray of shape (N, T), each row <START>, the words,
            <END>, then <NULL> padding; T - 1 <= max_length

        Returns
        -------
        loss : float, the temporal softmax loss (summed over time, averaged over N)
        grads : dict with the keys of ``self.params``
        """
        self._check_features("CaptioningTransformer.loss", features)
        check_ndim("CaptioningTransformer.loss", "captions", captions, 2)
        if captions.shape[0] != features.shape[0]:
            raise ValueError(
                f"CaptioningTransformer.loss: got {features.shape[0]} feature vectors but "
                f"{captions.shape[0]} captions; they must match one to one."
            )
        if not 2 <= captions.shape[1] <= self.max_length + 1:
            raise ValueError(
                f"CaptioningTransformer.loss: captions must have 2 to {self.max_length + 1} "
                f"tokens, got {captions.shape[1]}."
            )
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]  # (N, T - 1) each
        mask = captions_out != self._null
        if self.dropout_param is not None:
            self.dropout_param["mode"] = "train"

        loss, grads = 0.0, {}
        # BEGIN SOLUTION a3.transformer.captioning_loss: the loss of the scores _forward gives, and every backward pass in reverse
        scores, (proj_cache, embed_cache, pos_cache, layer_caches, vocab_cache) = self._forward(
            features, captions_in, self.dropout_param
        )
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        dx, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dmemory = 0.0
        for layer in range(self.num_layers, 0, -1):  # the layers in reverse order
            dx, dmem, layer_grads = decoder_layer_backward(dx, layer_caches[layer - 1])
            dmemory = dmemory + dmem  # every layer reads the same memory
            grads.update({f"layer{layer}_{k}": v for k, v in layer_grads.items()})
        dx = positional_encoding_backward(dx, pos_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        _, grads["W_proj"], grads["b_proj"] = temporal_affine_backward(dmemory, proj_cache)
        # END SOLUTION a3.transformer.captioning_loss
        return loss, grads

    def sample(self, features, max_length=30):
        """Greedily write a caption for each image, one word at a time.

        Parameters
        ----------
        features : ndarray of shape (N, D), image features
        max_length : int, the number of words to generate (at most ``self.max_length``)

        Returns
        -------
        captions : int32 ndarray of shape (N, max_length), without the <START> token;
            after <END>, a row holds <NULL>
        """
        self._check_features("CaptioningTransformer.sample", features)
        if self._start is None or self._end is None:
            raise ValueError(
                'CaptioningTransformer.sample: the vocabulary needs "<START>" and "<END>".'
            )
        if max_length > self.max_length:
            raise ValueError(
                f"CaptioningTransformer.sample: max_length={max_length} exceeds the "
                f"model's max_length={self.max_length}."
            )
        if self.dropout_param is not None:
            self.dropout_param["mode"] = "test"
        N = features.shape[0]
        tokens = np.full((N, 1), self._start, dtype=np.int32)  # the caption so far
        captions = np.full((N, max_length), self._null, dtype=np.int32)
        done = np.zeros(N, dtype=bool)
        for t in range(max_length):
            scores, _ = self._forward(features, tokens, self.dropout_param)
            word = scores[:, -1].argmax(axis=1).astype(np.int32)  # (N,)
            captions[~done, t] = word[~done]
            done |= word == self._end
            if done.all():
                break
            tokens = np.concatenate([tokens, word[:, None]], axis=1)
        return captions

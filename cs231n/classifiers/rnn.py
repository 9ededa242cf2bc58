"""CaptioningRNN: a recurrent network that writes a caption for an image.

The image enters as a feature vector (for COCO, a CNN's activations reduced by PCA);
an affine projection of it becomes the initial hidden state h0 of a recurrent
network (a vanilla RNN or an LSTM). The network then reads the caption one word at
a time and at every step predicts the next word:

    features --affine--> h0 (initial hidden state)
    inputs  <START> w1 ... wn    --embedding--> RNN/LSTM --temporal affine--> scores
    targets w1      w2 ... <END> --------------------------------------------> softmax loss

Training uses *teacher forcing*: the ground-truth previous word is fed at every step.
At test time, ``sample`` feeds back the network's own most likely word instead.

The model follows the Solver contract (``params`` dict, ``loss`` returning
``(loss, grads)``) and is trained by ``cs231n.captioning_solver.CaptioningSolver``.
"""

import numpy as np

from cs231n import rnn_layers as _rnn_layers
from cs231n._checks import check_ndim
from cs231n._random import generator
from cs231n.classifiers._saving import SaveLoad
from cs231n.rnn_layers import *  # noqa: F403
from cs231n.rnn_layers import (
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

# The original course code's notebooks take their layer functions from this module
# (``from cs231n.classifiers.rnn import *``), so it re-exports them.
__all__ = ["CaptioningRNN", *_rnn_layers.__all__]


class CaptioningRNN(SaveLoad):
    """A recurrent captioning model: image features in, a caption out.

    Parameters
    ----------
    word_to_idx : dict mapping each of the V words of the vocabulary to an index in
        [0, V); it must contain "<NULL>" (the padding token), and "<START>" and
        "<END>" to sample captions
    input_dim : int, dimension D of the image feature vectors
    wordvec_dim : int, dimension W of the word vectors
    hidden_dim : int, dimension H of the hidden state of the RNN
    cell_type : "rnn" (vanilla RNN) or "lstm"
    dtype : numpy float type of the parameters; float32 to train, float64 to
        check gradients numerically
    seed : int or None, seeds the initial weights (None: the global np.random state)

    Attributes
    ----------
    params : dict of parameters
        W_proj (D, H), b_proj (H,): image features to initial hidden state
        W_embed (V, W): word embeddings
        Wx (W, H) or (W, 4H), Wh (H, H) or (H, 4H), b (H,) or (4H,): the recurrent cell
        W_vocab (H, V), b_vocab (V,): hidden states to scores over the vocabulary
    """

    def __init__(
        self,
        word_to_idx,
        input_dim=512,
        wordvec_dim=128,
        hidden_dim=128,
        cell_type="rnn",
        dtype=np.float32,
        seed=None,
    ):
        if cell_type not in {"rnn", "lstm"}:
            raise ValueError(
                f'CaptioningRNN: invalid cell_type "{cell_type}"; use "rnn" or "lstm".'
            )
        if "<NULL>" not in word_to_idx:
            raise ValueError('CaptioningRNN: word_to_idx must contain the padding token "<NULL>".')
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.params = {}

        vocab_size = len(word_to_idx)
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)

        rng = generator(seed)  # an int: a generator of its own; None: np.random
        randn = rng.standard_normal
        # Small random word vectors.
        self.params["W_embed"] = randn((vocab_size, wordvec_dim)) / 100
        # Image features -> initial hidden state.
        self.params["W_proj"] = randn((input_dim, hidden_dim)) / np.sqrt(input_dim)
        self.params["b_proj"] = np.zeros(hidden_dim)
        # The recurrent cell: an LSTM has four blocks of H columns (gates i, f, o, g).
        dim_mul = {"lstm": 4, "rnn": 1}[cell_type]
        self.params["Wx"] = randn((wordvec_dim, dim_mul * hidden_dim)) / np.sqrt(wordvec_dim)
        self.params["Wh"] = randn((hidden_dim, dim_mul * hidden_dim)) / np.sqrt(hidden_dim)
        self.params["b"] = np.zeros(dim_mul * hidden_dim)
        # Hidden states -> scores over the vocabulary.
        self.params["W_vocab"] = randn((hidden_dim, vocab_size)) / np.sqrt(hidden_dim)
        self.params["b_vocab"] = np.zeros(vocab_size)

        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def _check_features(self, func, features):
        check_ndim(func, "features", features, 2)
        D = self.params["W_proj"].shape[0]
        if features.shape[1] != D:
            raise ValueError(
                f"{func}: the model expects features of dimension {D} (input_dim), "
                f"got features of shape {features.shape}."
            )

    def loss(self, features, captions):
        """Training-time loss and gradients of the model on a minibatch.

        Parameters
        ----------
        features : ndarray of shape (N, D), image features
        captions : integer ndarray of shape (N, T), ground-truth captions: each row
            starts with <START>, then the words, <END>, and <NULL> padding

        Returns
        -------
        loss : float, the temporal softmax loss (summed over time, averaged over N)
        grads : dict with the same keys as ``self.params``
        """
        self._check_features("CaptioningRNN.loss", features)
        check_ndim("CaptioningRNN.loss", "captions", captions, 2)
        if captions.shape[0] != features.shape[0]:
            raise ValueError(
                f"CaptioningRNN.loss: got {features.shape[0]} feature vectors but "
                f"{captions.shape[0]} captions; they must match one to one."
            )
        if captions.shape[1] < 2:
            raise ValueError("CaptioningRNN.loss: captions need at least two tokens (T >= 2).")

        # Teacher forcing: the network reads captions_in and predicts captions_out,
        # the same sequence shifted by one word. The first word of captions_out is
        # predicted from <START>; the last word of captions_in is never read.
        captions_in = captions[:, :-1]  # (N, T - 1)
        captions_out = captions[:, 1:]  # (N, T - 1)
        # <NULL> padding contributes nothing to the loss.
        mask = captions_out != self._null  # (N, T - 1)

        W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
        W_embed = self.params["W_embed"]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]

        loss, grads = 0.0, {}
        # BEGIN SOLUTION a3.captioning.loss: the forward pass, the masked loss and the backward pass of the captioning model
        # Forward: (1) features -> h0, (2) words -> vectors, (3) the recurrent network,
        # (4) hidden states -> scores, (5) the masked softmax loss.
        h0 = features @ W_proj + b_proj  # (N, H)
        x, embed_cache = word_embedding_forward(captions_in, W_embed)  # (N, T-1, W)
        if self.cell_type == "rnn":
            h, rnn_cache = rnn_forward(x, h0, Wx, Wh, b)  # (N, T-1, H)
        else:
            h, rnn_cache = lstm_forward(x, h0, Wx, Wh, b)
        scores, affine_cache = temporal_affine_forward(h, W_vocab, b_vocab)  # (N, T-1, V)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        # Backward, in reverse order.
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, affine_cache)
        if self.cell_type == "rnn":
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_cache)
        else:
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = lstm_backward(dh, rnn_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        grads["W_proj"] = features.T @ dh0  # (D, H)
        grads["b_proj"] = dh0.sum(axis=0)  # (H,)
        # END SOLUTION a3.captioning.loss
        return loss, grads

    def sample(self, features, max_length=30):
        """Greedily write a caption for each image.

        At every step the network embeds the previous word (``<START>`` at the first
        step), updates its hidden state, scores the vocabulary, and keeps the most
        likely word, which becomes the next step's input. Once a caption has produced
        ``<END>``, the rest of its row is filled with ``<NULL>``.

        Parameters
        ----------
        features : ndarray of shape (N, D), image features
        max_length : int, maximum length T of the generated captions

        Returns
        -------
        captions : int32 ndarray of shape (N, max_length); captions[i, t] is the word
            index generated at step t for image i (the <START> token is not included)
        """
        self._check_features("CaptioningRNN.sample", features)
        if self._start is None or self._end is None:
            raise ValueError(
                'CaptioningRNN.sample: the vocabulary needs "<START>" and "<END>" tokens.'
            )
        N = features.shape[0]
        captions = self._null * np.ones((N, max_length), dtype=np.int32)

        W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
        W_embed = self.params["W_embed"]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]

        # BEGIN SOLUTION a3.captioning.sample: greedy sampling, one word per step, fed back as the next input
        h = features @ W_proj + b_proj  # (N, H)
        c = np.zeros_like(h)  # LSTM cell state
        word = np.full(N, self._start, dtype=np.int32)  # (N,)
        done = np.zeros(N, dtype=bool)  # captions that have produced <END>
        for t in range(max_length):
            x = W_embed[word]  # (N, W)
            if self.cell_type == "rnn":
                h, _ = rnn_step_forward(x, h, Wx, Wh, b)
            else:
                h, c, _ = lstm_step_forward(x, h, c, Wx, Wh, b)
            scores = h @ W_vocab + b_vocab  # (N, V)
            word = np.argmax(scores, axis=1).astype(np.int32)
            captions[~done, t] = word[~done]
            done |= word == self._end
            if done.all():
                break
        # END SOLUTION a3.captioning.sample
        return captions

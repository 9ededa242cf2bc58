"""What the notebooks check about results, on data they have never seen.

A notebook runs on the embedded stand-in, on the real CIFAR-10, or on any other
10-class image set in CIFAR-10's format, at any size up to the real one. How accurate a
model gets depends on the data; what must hold on any data a model can learn from is
that it does better than chance. So the notebooks assert only that, with a margin no
lucky guess reaches, and print each accuracy beside the figure the course reports for
CIFAR-10, so you can see where your data and your model stand.

Comparisons between methods (batch norm against none, dropout against none, momentum
against SGD) are findings about the data at hand: printed, with what is usually seen,
never asserted.
"""

import math


def beats_chance(what, accuracy, num_examples, course=None, num_classes=10):
    """Print an accuracy (beside the course's CIFAR-10 figure); assert it beats chance.

    Chance is 1 / num_classes. The margin is three standard deviations of the accuracy
    of random guesses on ``num_examples`` examples: a model that learnt nothing passes
    it about once in 700 runs.

    Parameters
    ----------
    what : str, what was measured ("1-NN test accuracy")
    accuracy : float in [0, 1]
    num_examples : int, how many examples the accuracy was measured on
    course : str or None, the figure the course reports for this on CIFAR-10
    num_classes : int
    """
    chance = 1.0 / num_classes
    margin = 3.0 * math.sqrt(chance * (1 - chance) / num_examples)
    line = f"{what}: {accuracy:.1%}"
    if course:
        line += f" (on CIFAR-10 the course reports {course})"
    print(line)
    if not accuracy > chance + margin:
        raise AssertionError(
            f"{what} is {accuracy:.1%}, no better than chance ({chance:.0%}, margin "
            f"{margin:.1%} on {num_examples} examples): the model has learnt nothing."
        )


def finding(what, holds, usually):
    """Print whether a comparison came out as it usually does; never fails.

    Parameters
    ----------
    what : str, the comparison with its numbers
    holds : bool, whether it came out as usually seen
    usually : str, what is usually seen (on CIFAR-10 and the embedded set)
    """
    verdict = "as usually seen" if holds else "NOT as usually seen on CIFAR-10"
    print(f"Finding: {what} -- {verdict} ({usually}).")

"""checks.check_causal_mask: the correct mask passes and each classic wrong one fails with its diagnosis."""

import torch

from course_utils import checks


def strictly_lower(n):
    return torch.ones(n, n, dtype=torch.bool).tril(-1)  # the diagonal left out


def test_a_mask_without_its_diagonal_fails_and_says_so():
    verdict = checks.check_causal_mask(strictly_lower)
    assert not verdict and "diagonal is missing" in repr(verdict)


def test_correct_mask_passes_and_near_misses_fail():
    assert checks.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril())
    assert not checks.check_causal_mask(lambda n: torch.eye(n, dtype=torch.bool))  # only itself
    assert not checks.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril(1))  # one step ahead
    assert not checks.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool))  # no mask at all

import math

import pytest
import torch

from course_utils import checks
from course_utils import positional as PE


def test_formula_and_the_notes_table():
    table = PE.sinusoidal_1d(4, 50)
    # the lecture notes' d = 50 table: positions 0..3, channels 0..3
    expected = [[0.000, 0.841, 0.909, 0.141], [1.000, 0.540, -0.416, -0.990],
                [0.000, 0.638, 0.983, 0.875], [1.000, 0.770, 0.186, -0.484]]
    torch.testing.assert_close(table[:, :4].T.round(decimals=3), torch.tensor(expected), atol=1e-6, rtol=0)
    p, i, d = 7, 5, 50
    assert table.shape == (4, 50)
    full = PE.sinusoidal_1d(8, d)
    assert full[p, 2 * i].item() == pytest.approx(math.sin(p / 10000 ** (2 * i / d)), abs=1e-6)
    assert full[p, 2 * i + 1].item() == pytest.approx(math.cos(p / 10000 ** (2 * i / d)), abs=1e-6)


def test_the_notes_cosine_similarities():
    s = PE.cosine_similarity_matrix(PE.sinusoidal_1d(16, 64))
    got = [round(s[a, b].item(), 4) for a, b in [(5, 6), (5, 7), (5, 8), (6, 7), (7, 8)]]
    assert got == [0.9662, 0.8845, 0.7996, 0.9662, 0.9662]


def test_2d_modes():
    concat = PE.sinusoidal_2d(4, 4, 64, "concat")
    summed = PE.sinusoidal_2d(4, 4, 64, "sum")
    assert concat.shape == summed.shape == (16, 64)
    one = PE.sinusoidal_1d(4, 32)
    assert torch.equal(concat[1 * 4 + 2], torch.cat([one[1], one[2]]))  # cell (1, 2)
    # sum: symmetric in (row, col), so transposed cells collide; concat does not
    assert torch.equal(summed[0 * 4 + 1], summed[1 * 4 + 0])
    assert len(torch.unique(concat, dim=0)) == 16 and len(torch.unique(summed, dim=0)) == 10
    rect = PE.sinusoidal_2d(2, 3, 8)
    assert rect.shape == (6, 8)


def test_shift_is_a_rotation():
    table = PE.sinusoidal_1d(40, 32).double()
    for k in (1, 3, 7):
        m = PE.shift_matrix(k, 32)
        torch.testing.assert_close((m @ table[:-k].T).T, table[k:], atol=1e-6, rtol=0)
        torch.testing.assert_close(m @ m.T, torch.eye(32, dtype=torch.float64))  # orthogonal


def test_bad_inputs():
    with pytest.raises(ValueError, match="dim 7 must be a positive even number"):
        PE.sinusoidal_1d(4, 7)
    with pytest.raises(ValueError, match="dim 6 must be divisible by 4"):
        PE.sinusoidal_2d(2, 2, 6, "concat")
    with pytest.raises(ValueError, match="mode 'diagonal' is not one of"):
        PE.sinusoidal_2d(2, 2, 8, "diagonal")
    with pytest.raises(ValueError, match="num_positions 0"):
        PE.sinusoidal_1d(0, 8)
    with pytest.raises(ValueError, match=r"x must be \(N, D\)"):
        PE.cosine_similarity_matrix(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="do not match the table"):
        PE.LearnedPositionalEmbedding(4, 8)(torch.zeros(1, 5, 8))


def test_cosine_similarity_matches_torch():
    x = torch.randn(7, 5)
    want = torch.nn.functional.cosine_similarity(x[:, None], x[None, :], dim=-1)
    torch.testing.assert_close(PE.cosine_similarity_matrix(x), want, atol=1e-6, rtol=1e-5)


def test_positional_checkers():
    assert checks.check_sinusoidal_1d(PE.sinusoidal_1d)
    notes_variant = lambda n, d: torch.stack([torch.tensor([math.sin(p / 10000 ** (k / d)) if k % 2 == 0 else  # noqa: E731
                                                            math.cos(p / 10000 ** (k / d)) for k in range(d)]) for p in range(n)])
    assert "exponent 2i/D" in repr(checks.check_sinusoidal_1d(notes_variant))
    swapped = lambda n, d: PE.sinusoidal_1d(n, d).view(n, -1, 2).flip(-1).reshape(n, d)  # noqa: E731
    assert "swapped" in repr(checks.check_sinusoidal_1d(swapped))
    assert checks.check_cosine_similarity(PE.cosine_similarity_matrix)
    assert "raw dot products" in repr(checks.check_cosine_similarity(lambda x: x @ x.T))


@pytest.mark.parametrize("height, width", [(3, 5), (5, 3)])
def test_2d_tables_on_rectangular_grids_match_the_formula(height, width):
    """Row r·W + c is cell (r, c). sum: PE_D(r) + PE_D(c); concat: [PE_{D/2}(r) | PE_{D/2}(c)], with
    PE_d(p)[2i] = sin(p / 10000^(2i/d)), PE_d(p)[2i+1] = cos(p / 10000^(2i/d)) written out here."""
    d = 16

    def pe(p, dim):
        return [math.sin(p / 10000 ** (2 * (k // 2) / dim)) if k % 2 == 0 else math.cos(p / 10000 ** (2 * (k // 2) / dim))
                for k in range(dim)]

    cells = [(r, c) for r in range(height) for c in range(width)]
    want_sum = torch.tensor([[a + b for a, b in zip(pe(r, d), pe(c, d))] for r, c in cells])
    want_concat = torch.tensor([pe(r, d // 2) + pe(c, d // 2) for r, c in cells])
    summed = PE.sinusoidal_2d(height, width, d, "sum")
    concat = PE.sinusoidal_2d(height, width, d, "concat")
    assert summed.shape == concat.shape == (height * width, d)
    torch.testing.assert_close(summed, want_sum, atol=1e-6, rtol=0)
    torch.testing.assert_close(concat, want_concat, atol=1e-6, rtol=0)
    # the cell in the last row and last column: both indices at their largest
    torch.testing.assert_close(summed[-1], torch.tensor(pe(height - 1, d)) + torch.tensor(pe(width - 1, d)))

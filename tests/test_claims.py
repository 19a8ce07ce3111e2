import pytest

from course_utils.claims import ClaimError, claim


@pytest.fixture
def lecture(monkeypatch):
    monkeypatch.delenv("COURSE_SMOKE", raising=False)


@pytest.fixture
def smoke(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")


def test_a_true_claim_prints_its_numbers(lecture, capsys):
    claim(82.3 > 74.4, "the CNN wins: {cnn:.1f} % vs {vit:.1f} %", cnn=82.3, vit=74.4, params=391466)
    assert capsys.readouterr().out == "holds: the CNN wins: 82.3 % vs 74.4 % (params = 391,466)\n"


def test_a_false_claim_fails_the_lecture_run(lecture, capsys):
    with pytest.raises(ClaimError, match="the CNN wins: 70.0"):
        claim(False, "the CNN wins: {cnn:.1f} %", cnn=70.0)
    assert capsys.readouterr().out.startswith("does NOT hold: the CNN wins: 70.0 %")


def test_a_false_claim_only_reports_in_smoke_mode(smoke, capsys):
    claim(False, "the CNN wins: {cnn:.1f} %", cnn=10.0)  # reported, not raised
    out = capsys.readouterr().out
    assert out.startswith("does NOT hold: the CNN wins: 10.0 %") and "smoke mode" in out


@pytest.mark.parametrize("mode", ["smoke", "lecture"])
def test_a_false_exact_claim_fails_everywhere(mode, request):
    request.getfixturevalue(mode)
    with pytest.raises(ClaimError, match="must hold everywhere"):
        claim(3 == 64, "the widths match: {a} and {b}", exact=True, a=3, b=64)


def test_a_tensor_condition_and_a_bad_field(lecture):
    import torch

    claim(torch.tensor(True), "a tensor condition")
    with pytest.raises(ValueError, match="names 'missing'"):
        claim(True, "{missing} is not given", present=1)

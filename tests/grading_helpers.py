"""What the grading tests share: a wrong answer must fail with a message containing given fragments."""
import pytest

from gantut.grading import GradingError


def fails_with(checker, fn, *fragments):
    """``checker(fn)`` raises a GradingError whose message contains every fragment; returns the message."""
    with pytest.raises(GradingError) as info:
        checker(fn)
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, f"expected {fragment!r} in the message:\n{msg}"
    return msg

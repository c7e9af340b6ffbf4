"""keras_resnet.deploy.timing.interleaved_latency_ms: how the Predictor times its
candidates. Callables here wait on the wall clock (busy loops), so the times they take
are known and load on the machine lengthens them only by being descheduled."""

import time

from keras_resnet.deploy.timing import interleaved_latency_ms


def _busy(ms, slow_until=None, factor=2.0):
    """A callable that takes ``ms`` of wall time, ``factor`` times that while the wall
    clock is before ``slow_until`` (a slow phase of a shared machine)."""
    calls = []

    def f(x):
        now = time.perf_counter()
        calls.append(now)
        scale = factor if slow_until is not None and now < slow_until[0] else 1.0
        end = now + ms / 1000 * scale
        while time.perf_counter() < end:
            pass

    f.calls = calls
    return f


def test_a_slow_phase_does_not_decide_between_equal_candidates():
    # the first candidate timed alone would fall wholly in the slow phase and look twice
    # as slow as the second; side by side, both see it in the same rounds
    slow_until = [0.0]
    a, b = _busy(0.5, slow_until), _busy(0.5, slow_until)
    slow_until[0] = time.perf_counter() + 0.015  # the first ~15 ms of the timing
    times = interleaved_latency_ms({"a": a, "b": b}, None, rounds=25)
    assert 0.8 < times["a"] / times["b"] < 1.25, times
    assert 0.45 < min(times.values()) and max(times.values()) < 0.8, times


def test_tells_apart_candidates_and_sizes_blocks_by_their_time():
    fast, slow = _busy(0.25), _busy(5.0)
    times = interleaved_latency_ms({"fast": fast, "slow": slow}, None, rounds=4,
                                   warmup=1, block_seconds=0.002)
    assert times["slow"] / times["fast"] > 12, times
    # warm-up + sizing call, then blocks of ~2 ms: 8 calls of the fast one, 1 of the slow
    assert len(slow.calls) == 1 + 1 + 4
    assert 1 + 1 + 4 * 4 <= len(fast.calls) <= 1 + 1 + 4 * 9, len(fast.calls)


def test_rotates_the_order_from_round_to_round():
    order = []
    fns = {k: (lambda k: lambda x: order.append(k))(k) for k in "abc"}
    interleaved_latency_ms(fns, None, rounds=3, warmup=0, block_seconds=0)
    assert order[3:] == list("abc" "bca" "cab"), order

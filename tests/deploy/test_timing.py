"""keras_resnet.deploy.timing.interleaved_latency_ms: how the Predictor times its
candidates. The callables here run on a virtual clock (each call advances it by the time
the callable takes), so what the timing sees is exactly what the test scripts, whatever
the load on the machine that runs the suite."""

import types

import pytest

from keras_resnet.deploy import timing
from keras_resnet.deploy.timing import interleaved_latency_ms


@pytest.fixture
def clock(monkeypatch):
    """A virtual clock in seconds that the timing module reads as time.perf_counter."""
    now = [0.0]
    monkeypatch.setattr(timing, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    return now


def _taking(clock, ms, slow_until=None, factor=2.0):
    """A callable that takes ``ms`` of the clock's time, ``factor`` times that while the
    clock is before ``slow_until`` seconds (a slow phase of a shared machine)."""
    calls = []

    def f(x):
        calls.append(clock[0])
        scale = factor if slow_until is not None and clock[0] < slow_until else 1.0
        clock[0] += ms / 1000 * scale

    f.calls = calls
    return f


def test_a_slow_phase_does_not_decide_between_equal_candidates(clock):
    # the first candidate timed alone would fall wholly in the slow phase and look twice
    # as slow as the second; side by side, both see it in the same rounds
    a, b = _taking(clock, 0.5, 0.03), _taking(clock, 0.5, 0.03)
    times = interleaved_latency_ms({"a": a, "b": b}, None, rounds=25)
    assert times == pytest.approx({"a": 0.5, "b": 0.5}), times
    # the contrast: each timed alone for the same number of calls
    clock[0] = 0.0
    a, b = _taking(clock, 0.5, 0.03), _taking(clock, 0.5, 0.03)
    alone = {k: interleaved_latency_ms({k: f}, None, rounds=12)[k]
             for k, f in (("a", a), ("b", b))}
    assert alone == pytest.approx({"a": 1.0, "b": 0.5}), alone


def test_tells_apart_candidates_and_sizes_blocks_by_their_time(clock):
    fast, slow = _taking(clock, 0.25), _taking(clock, 5.0)
    times = interleaved_latency_ms({"fast": fast, "slow": slow}, None, rounds=4,
                                   warmup=1, block_seconds=0.002)
    assert times == pytest.approx({"fast": 0.25, "slow": 5.0}), times
    # warm-up + sizing call, then blocks of 2 ms: 8 calls of the fast one, 1 of the slow
    assert len(slow.calls) == 1 + 1 + 4
    assert len(fast.calls) == 1 + 1 + 4 * 8


def test_the_sizing_call_caught_in_a_slow_phase_gives_smaller_blocks_not_wrong_times(clock):
    # the sizing call takes twice as long: blocks of 4 calls instead of 8, times still right
    fast = _taking(clock, 0.25, slow_until=0.0006)
    times = interleaved_latency_ms({"fast": fast}, None, rounds=4, warmup=1,
                                   block_seconds=0.002)
    assert times == pytest.approx({"fast": 0.25})
    assert len(fast.calls) == 1 + 1 + 4 * 4


def test_rotates_the_order_from_round_to_round():
    order = []
    fns = {k: (lambda k: lambda x: order.append(k))(k) for k in "abc"}
    interleaved_latency_ms(fns, None, rounds=3, warmup=0, block_seconds=0)
    assert order[3:] == list("abc" "bca" "cab"), order


def test_the_chosen_candidates_threads_are_settled_by_its_two_variants_alone(monkeypatch):
    """Among all candidates the fastest one's one-thread variant may look faster (other
    runtimes' spinning threads slow its all-core blocks); the Predictor times the chosen
    candidate's two variants again on their own and keeps what that says. Timings are
    scripted here: the first call is the side-by-side round of every candidate, the
    second the chosen one's own."""
    import os

    import keras

    pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    from keras_resnet.deploy import predictor

    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip("one core: nothing to choose")
    calls = []

    def scripted(fns, x, rounds=10, **kw):
        calls.append(set(fns))
        if len(calls) == 1:  # every candidate: ONNX Runtime's one thread clearly fastest
            return {k: (0.5 if k == ("onnxruntime", 1) else 1.0 if k[0] == "onnxruntime"
                        else 5.0) for k in fns}
        return {cores: 0.4, 1: 0.6}  # alone, all cores are faster

    monkeypatch.setattr(predictor, "interleaved_latency_ms", scripted)
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(4, 3)(inp))))
    p = predictor.Predictor(model, backend="auto")
    entry = p.report["onnxruntime"]
    assert p.candidate == "onnxruntime" and calls[1] == {cores, 1}
    assert entry["latency_ms_by_threads"] == {cores: 1.0, 1: 0.5}
    assert entry["latency_ms_alone_by_threads"] == {cores: 0.4, 1: 0.6}
    assert entry["num_threads"] == cores and p.runner("onnxruntime").num_threads == cores
    assert entry["latency_ms"] == 1.0  # the side-by-side time of the variant kept
    assert all("latency_ms_alone_by_threads" not in e for k, e in p.report.items()
               if k != "onnxruntime")

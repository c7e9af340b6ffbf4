"""keras_resnet.cpu: the CPU's bfloat16 units, and TensorFlow's oneDNN kernels switched
on by ``import keras_resnet`` where TensorFlow leaves them off (AVX2 CPUs)."""

import dataclasses
import os
import platform
import subprocess
import sys
import warnings

import pytest

from keras_resnet import cpu

X86 = sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")


def _python(code, **env):
    """Run ``code`` in a fresh interpreter with TF_ENABLE_ONEDNN_OPTS removed and
    ``env`` added (None values removed)."""
    full = {k: v for k, v in os.environ.items() if k != cpu.ONEDNN_ENV}
    full.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, timeout=300)


def test_flags_and_bf16_units_read_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma avx512f avx512_bf16 amx_tile "
                   "amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu.cpu_bf16_units(str(x86)) == ["amx_bf16", "avx512_bf16"]  # the first CPU's
    zen3 = tmp_path / "zen3"
    zen3.write_text("model name\t: AMD EPYC\nflags\t\t: fpu avx avx2 fma\n")
    assert cpu.cpu_bf16_units(str(zen3)) == [] and "avx2" in cpu.cpu_flags(str(zen3))
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")
    assert cpu.cpu_bf16_units(str(arm)) == ["bf16"]
    missing = str(tmp_path / "missing")
    assert cpu.cpu_bf16_units(missing) is None and cpu.cpu_flags(missing) is None
    power = tmp_path / "power"  # no flags line at all (ppc64le): unknown, not "none"
    power.write_text("processor\t: 0\ncpu\t\t: POWER10\n")
    assert cpu.cpu_bf16_units(str(power)) is None


def test_tf_onednn_state_follows_the_variable_then_tensorflows_own_rule(tmp_path,
                                                                       monkeypatch):
    avx2, vnni = tmp_path / "avx2", tmp_path / "vnni"
    avx2.write_text("flags\t\t: fpu avx2 fma\n")
    vnni.write_text("flags\t\t: fpu avx2 avx512f avx512_vnni\n")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv(cpu.ONEDNN_ENV, raising=False)
    # unset: TensorFlow's default, on only with the neural-network features
    assert cpu.tf_onednn_expected(str(avx2)) is False
    assert cpu.tf_onednn_expected(str(vnni)) is True
    assert cpu.tf_onednn_expected(str(tmp_path / "missing")) is None
    # TensorFlow lower-cases but does not strip the value, and ignores what it cannot
    # parse (its CPU-feature default then holds)
    for value, expected in [("1", True), ("TRUE", True), ("0", False), ("false", False),
                            ("maybe", False), (" 1", False), ("", False)]:
        monkeypatch.setenv(cpu.ONEDNN_ENV, value)
        assert cpu.tf_onednn_expected(str(avx2)) is expected, value
    monkeypatch.delenv(cpu.ONEDNN_ENV)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert cpu.tf_onednn_expected(str(avx2)) is None  # another oneDNN build: not ours to say
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(sys, "platform", "win32")  # oneDNN off there on purpose
    monkeypatch.setenv(cpu.ONEDNN_ENV, "1")
    assert cpu.tf_onednn_expected(str(avx2)) is None and cpu.enable_tf_onednn() is False


@pytest.mark.skipif(not X86, reason="keras_resnet sets the variable on Linux x86-64 only")
def test_import_sets_the_variable_only_where_it_can_take_effect():
    show = "import os; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
    assert _python(f"import keras_resnet; {show}").stdout.strip() == "1"
    # the user's own value is kept
    assert _python(f"import keras_resnet; {show}", TF_ENABLE_ONEDNN_OPTS="0"
                   ).stdout.strip() == "0"
    # TensorFlow already imported: too late to change, so left alone
    assert _python(f"import tensorflow, keras_resnet; {show}",
                   TF_CPP_MIN_LOG_LEVEL="3").stdout.strip() == "None"
    # an empty value is TensorFlow's "unset", not a choice
    assert _python(f"import keras_resnet; {show}", TF_ENABLE_ONEDNN_OPTS=""
                   ).stdout.strip() == "1"


@pytest.mark.skipif(not X86, reason="keras_resnet sets the variable on Linux x86-64 only")
def test_the_state_is_tensorflows_own_answer(monkeypatch):
    """Set after TensorFlow's import, the variable changes nothing: the state reported
    (and recorded in metrics.json) is what TensorFlow decided, its default here."""
    monkeypatch.delenv(cpu.ONEDNN_ENV, raising=False)
    default = cpu.tf_onednn_expected()  # TensorFlow's own choice for this CPU
    late = ("import os, tensorflow; os.environ['TF_ENABLE_ONEDNN_OPTS'] = '1'; "
            "from keras_resnet import cpu; print(cpu.tf_onednn_enabled())")
    assert _python(late, TF_CPP_MIN_LOG_LEVEL="3").stdout.strip() == str(default)
    first = "import keras_resnet, tensorflow; print(keras_resnet.cpu.tf_onednn_enabled())"
    assert _python(first, TF_CPP_MIN_LOG_LEVEL="3").stdout.strip() == "True"


@pytest.mark.skipif(not X86, reason="keras_resnet sets the variable on Linux x86-64 only")
def test_tensorflow_runs_its_onednn_kernels_after_import_keras_resnet():
    """TensorFlow's own log line says whether its oneDNN kernels are on; it must say so
    after ``import keras_resnet`` on every x86-64 CPU, and not when the user said 0."""
    on = "oneDNN custom operations are on"
    r = _python("import keras_resnet, tensorflow", TF_CPP_MIN_LOG_LEVEL="0")
    assert r.returncode == 0 and on in r.stderr, r.stderr[-2000:]
    r = _python("import keras_resnet, tensorflow", TF_CPP_MIN_LOG_LEVEL="0",
                TF_ENABLE_ONEDNN_OPTS="0")
    assert r.returncode == 0 and on not in r.stderr


def test_train_says_how_to_turn_the_kernels_on_when_they_are_off(tmp_path, monkeypatch):
    from keras_resnet.training import strategy, train
    from keras_resnet.training.run import RunConfigMismatch

    real = strategy.choose_placement  # the test's point holds on a GPU machine too
    monkeypatch.setattr(strategy, "choose_placement",
                        lambda s=None: dataclasses.replace(real(s), on_cpu=True))

    (tmp_path / "run").mkdir()  # another run's directory: train() stops before training
    (tmp_path / "run" / "config.json").write_text('{"model": "another"}')
    tiny = dict(model="resnet8", epochs=1, batch_size=32, max_train_examples=64,
                max_test_examples=32, holdout=0, verbose=0, plot=False)
    # ("1", False): the variable set after TensorFlow's import, too late: still warned
    for env, state, hint in [(None, False, True), ("0", False, False), ("1", True, False),
                             (None, True, False), ("1", False, True)]:
        if env is None:
            monkeypatch.delenv(cpu.ONEDNN_ENV, raising=False)
        else:
            monkeypatch.setenv(cpu.ONEDNN_ENV, env)
        monkeypatch.setattr(cpu, "tf_onednn_enabled", lambda s=state: s)
        with warnings.catch_warnings(record=True) as caught, \
                pytest.raises(RunConfigMismatch):
            warnings.simplefilter("always")
            train(out=str(tmp_path / "run"), **tiny)
        ours = [w for w in caught if "TF_ENABLE_ONEDNN_OPTS=1" in str(w.message)]
        assert len(ours) == int(hint), (env, state)
        if hint:
            assert ours[0].filename == __file__  # points at the caller's line


def test_placement_knows_it_computes_on_the_cpu():
    import tensorflow as tf

    from keras_resnet.training.strategy import choose_placement

    no_gpu = not tf.config.list_logical_devices("GPU")
    assert choose_placement().on_cpu is no_gpu
    # the default strategy lists no devices: the answer comes from TensorFlow's own list
    assert choose_placement(tf.distribute.get_strategy()).on_cpu is no_gpu

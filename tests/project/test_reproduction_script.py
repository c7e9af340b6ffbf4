"""scripts/reproduce_degradation.py: the curves, summary statistics, tables and Figure 6
it writes, on run directories with known log.csv contents."""

import csv
import importlib.util
import os

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "reproduce_degradation.py")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("reproduce_degradation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_log(run_dir, train_acc, test_acc):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "log.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "accuracy", "val_accuracy"])
        for e, (a, v) in enumerate(zip(train_acc, test_acc)):
            w.writerow([e, a, v])


def test_planned_runs_cover_every_net_seed_and_shortcut(script):
    runs = script.planned_runs([0, 1])
    assert len(runs) == 4 * 2 + 2 * 2
    assert {(n, s) for n, s, sc in runs if sc is None} == {
        (n, s) for n in script.NETS for s in (0, 1)}
    assert script.run_name("resnet20", 1, "B") == "resnet20_B_seed1"


def test_curves_statistics_and_tables(script, tmp_path):
    accs = {"plain20": (0.80, 0.82), "plain56": (0.50, 0.60), "resnet20": (0.84, 0.86),
            "resnet56": (0.70, 0.74)}
    for net, (a0, a1) in accs.items():
        for seed, a in enumerate((a0, a1)):
            _write_log(tmp_path / script.run_name(net, seed), [a - 0.2, a - 0.1, a],
                       [a - 0.15, a - 0.05, a - 0.01])
    train, test = script._curves([tmp_path / script.run_name("plain56", s) for s in (0, 1)])
    np.testing.assert_allclose(train[:, -1], [50.0, 40.0])
    np.testing.assert_allclose(test[:, 0], [65.0, 55.0])
    stats = script._mean_spread(train[:, -1])
    assert stats == {"mean": 45.0, "min": 40.0, "max": 50.0, "n": 2, "values": [50.0, 40.0]}

    groups = {net: script._curves([tmp_path / script.run_name(net, s) for s in (0, 1)])
              for net in script.NETS}
    out = tmp_path / "fig6.png"
    script.plot_figure6(groups, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    results = {"nets": {net: {"final_train_error": script._mean_spread(g[0][:, -1]),
                              "final_test_error": script._mean_spread(g[1][:, -1]),
                              "response_std": {"mean": 1.5, "median": 1.25}}
                        for net, g in groups.items()},
               "shortcuts": {}}
    table = script.markdown_tables(results)
    assert "| plain-56 | 45.00 (40.00–50.00) | 46.00 (41.00–51.00) | 1.500 | 1.250 | nan |" in table

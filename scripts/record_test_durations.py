"""Record each test's measured time (setup + call + teardown, seconds) from the output
of ``pytest --durations=0`` into tests/durations.json, which tests/conftest.py reads to
put every test of SLOW_SECONDS or more in the ``slow`` tier (`make test-fast` skips it).

    .venv/bin/python -m pytest -n 2 --dist loadfile --durations=0 > /tmp/run.log
    .venv/bin/python scripts/record_test_durations.py /tmp/run.log

(`make test-durations` runs both.) Tests the output leaves out took under 5 ms.
"""

import collections
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINE = re.compile(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+::\S+)$", re.M)


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: record_test_durations.py PYTEST_OUTPUT (of pytest --durations=0)")
    text = pathlib.Path(argv[0]).read_text()
    if "slowest durations" not in text:
        sys.exit(f"{argv[0]}: no 'slowest durations' section; run pytest with --durations=0")
    seconds = collections.defaultdict(float)
    for value, test in LINE.findall(text[text.index("slowest durations"):]):
        seconds[test] += float(value)
    out = ROOT / "tests" / "durations.json"
    out.write_text(json.dumps({t: round(s, 1) for t, s in sorted(seconds.items())},
                              indent=0) + "\n")
    print(f"wrote {out.relative_to(ROOT)}: {len(seconds)} tests, "
          f"{sum(seconds.values()) / 60:.1f} test-minutes")


if __name__ == "__main__":
    main(sys.argv[1:])

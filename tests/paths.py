"""Paths the tests share: the repository root and the fixture files (tests/fixtures/)."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"

"""``read.crc`` loads crc32c's C function by itself; it must be that function."""

from __future__ import annotations

import subprocess
import sys

import crc32c as package

from lrdoctor.read.crc import crc32c
from tests.loaded_modules import ROOT


def test_it_is_the_packages_function_with_and_without_a_running_value():
    data = bytes(range(256)) * 33
    assert crc32c(b"") == package.crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283  # CRC-32C's check value
    assert crc32c(data) == package.crc32c(data)
    assert crc32c(data[700:], crc32c(data[:700])) == package.crc32c(data)


def test_loading_it_runs_neither_the_package_nor_importlib_metadata():
    listed = subprocess.run(
        [sys.executable, "-c", "import sys, lrdoctor.read.crc; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.split()
    assert "lrdoctor.read.crc" in listed
    assert "crc32c" not in listed and "importlib.metadata" not in listed

import os
import stat

import pytest

from lrdoctor.errors import InputError
from lrdoctor.write import write_atomic


def test_writes_text_and_bytes_and_leaves_no_temporary(tmp_path):
    write_atomic(tmp_path / "sub" / "report.json", '{"a": 1}')
    write_atomic(tmp_path / "figure.png", b"\x89PNG")
    assert (tmp_path / "sub" / "report.json").read_text() == '{"a": 1}'
    assert (tmp_path / "figure.png").read_bytes() == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["figure.png", "report.json", "sub"]


def test_new_files_get_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "report.md", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o644


def test_unwritable_target_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write"):
        write_atomic(blocker / "report.json", "x")

"""The errors lrdoctor raises for bad input: one that ends a command, one that skips a run."""

from pathlib import Path

from lrdoctor.words import display


class InputError(Exception):
    """A usage or input problem that ends the command with exit code 2; its message is the
    one line the user sees."""


class UnreadableFile(Exception):
    """A file of a run that cannot be read as what its name says: the run is listed as a
    read problem and the rest of the sweep goes on."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{display(str(path))}: {reason}")

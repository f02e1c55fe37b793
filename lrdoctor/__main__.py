"""``lrdoctor`` and ``python -m lrdoctor``: an analysis whose every input is as it was is
said again from its entry (``lrdoctor.replay``) before the command line and its libraries
load; anything else runs the command."""

import sys

from lrdoctor import replay
from lrdoctor.lines import leave


def main() -> None:
    code = replay.replayed(sys.argv[1:])
    if code is None:
        from lrdoctor.cli import main as run_command

        run_command()  # never returns: it ends the process with the command's code
    leave(code)


if __name__ == "__main__":
    main()

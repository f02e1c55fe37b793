"""The placeholders of ``watch --exec`` and the environment variables that carry the same
values: apart from the watch loop, so that every command's help can name them cheaply."""

PLACEHOLDERS = ("run", "path", "code", "rule", "severity", "step", "message")  # of --exec
ENVIRONMENT = {name: f"LRDOCTOR_{name.upper()}" for name in PLACEHOLDERS}  # the same values, by name


def placeholder_name(argument: str) -> str | None:
    """"run" for the argument ``{run}``; None for any other argument."""
    inner = argument[1:-1]
    return inner if argument == f"{{{inner}}}" and inner in PLACEHOLDERS else None

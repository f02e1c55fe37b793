"""The names of the files runs are read from: plain strings, no reader behind them, so
what only needs a name (a report never takes a training log's) loads no reader."""

EVENTS_PREFIX = "events.out.tfevents."
PROGRESS_CSV = "progress.csv"
RESULT_JSON = "result.json"  # a Tune trial's results, one JSON object per iteration
SQLITE_NAME = "mlflow.db"


def is_training_log(name: str) -> bool:
    """Whether a file name is one lrdoctor reads runs from."""
    return (name.startswith(EVENTS_PREFIX) or name in (PROGRESS_CSV, RESULT_JSON, SQLITE_NAME)
            or is_wandb_file(name))


def is_wandb_file(name: str) -> bool:
    return name.startswith("run-") and name.endswith(".wandb")

"""LRD010 metric-missing: a rule could not run because the run did not log what it needs.

Why: "no findings" must only be said of what was checked. A run without a KL
tag has not passed the KL checks, it has skipped them; a run whose LR was not
logged is never assumed to have a constant LR. This finding says which rules
did not run and which metric they were missing, so the report does not call an
unchecked run healthy. A run with none of the canonical metrics (no known tag)
gets a single LRD010 saying nothing could be checked; ``--tag metric=tag`` maps
a tag lrdoctor does not know.

The engine emits it (rules declare the metrics they need in ``REQUIRES``), once
per missing metric, naming every rule it kept from running.

Options: none besides ``severity`` (info by default; ignore it with
``ignore = ["metric-missing"]`` when a library simply does not log a metric).

Example::

    LRD010 info no kl (KL) logged: kl-exceeded (LRD001), policy-collapse (LRD006) not checked
"""

from lrdoctor.model import Severity

CODE = "LRD010"
SLUG = "metric-missing"
SEVERITY = Severity.info
SCOPE = "run"
REQUIRES: tuple = ()
OPTIONS: dict = {}

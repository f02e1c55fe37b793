"""`lrdoctor rules [RULE]`: every rule at a glance, or one rule's documentation
(``report.rules`` words them, from the rule modules themselves)."""

from typing import Annotated, Optional

import typer

from lrdoctor import rules as registry
from lrdoctor.cli import command


@command("rules")
def rules(
    rule: Annotated[Optional[str], typer.Argument(metavar="RULE", help="A rule's code or slug (LRD001, kl-exceeded) to explain it.")] = None,
) -> None:
    """List every rule with its code, severity and options; or explain one."""
    # here: rich, and the rules' pages, only for this command
    from rich.console import Console

    from lrdoctor.report import rules as pages

    console = Console()
    if rule is None:
        for part in pages.rule_table() if console.width >= pages.TABLE_WIDTH else pages.rule_list():
            console.print(part)
    else:
        for part in pages.rule_help(registry.get(rule)):
            console.print(part)

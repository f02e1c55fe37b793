"""Options are coerced without pydantic (``cli.values``) to exactly what typer's own coercion
gives: every parameter of every command, given the kinds of text a user types, good and bad."""

from __future__ import annotations

import pytest
import typer.main
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from lrdoctor.cli import app, values

TYPED = ["3", "0", "-2", "2.5", "1e-3", "nan", "abc", "", "json", "JSON", "gru", "warning", "png", "sarif",
         "sample_logs", "./a/b.json", "-", "kl=my/approx_kl", "20M", "60s"]


def _parameters():
    root = typer.main.get_command(app)
    for name, command in [("lrdoctor", root), *root.commands.items()]:
        for param in command.params:
            yield pytest.param(param, id=f"{name}:{param.name}")


def _outcome(runtime, value, param):
    try:
        made = runtime.coerce(value, param=param, ctx=None)
        return "value", type(made), repr(made)  # repr: a NaN equals a NaN
    except BadParameter as error:
        return "error", type(error)
    except Exception as error:  # noqa: BLE001 -- whatever typer's does, the plain one must do too
        return "raised", type(error)


@pytest.mark.parametrize("param", list(_parameters()))
def test_a_typed_value_becomes_what_typer_makes_of_it(param):
    plain = values.PlainRuntimeParam(
        parameter_info=param.type_descriptor.parameter_info, annotation=param.type_descriptor.annotation,
        descriptor=param.type_descriptor,
    )
    typers = build_runtime_param(param.type_descriptor)
    given = [[text] for text in TYPED] if param.multiple or param.nargs == -1 else [*TYPED, None, param.default]
    for value in given:
        assert _outcome(plain, value, param) == _outcome(typers, value, param), value


def test_every_parameter_of_every_command_is_coerced_by_the_plain_rules():
    root = typer.main.get_command(app)
    params = [p for command in [root, *root.commands.values()] for p in command.params]
    values.install(params)
    assert all(isinstance(p._runtime_param, values.PlainRuntimeParam) for p in params)

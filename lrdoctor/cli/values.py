"""Option values coerced without pydantic, as typer coerces them.

typer 0.29 coerces each parameter of the command being run through a pydantic TypeAdapter,
even one left at its default: importing pydantic and building the adapters costs about 0.1 s
of every command, a fifth of a cached re-analysis. lrdoctor's options are plain (text,
integers, numbers, paths, an Enum's choices, lists of those), and are coerced here with
typer's own choice and path checks. Any other value (a flag given as text, a kind of option
added later) still goes to typer's coercion, built when such a value first comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_choice, coerce_cli_path, lenient_issubclass
from typer.core import _TyperParameter

NUMBER_NAMES = {int: "integer", float: "number"}


def install(params) -> None:
    """Give each of a command's parameters the plain coercion, where it applies, before
    typer builds its own (it builds one only for a parameter that has none)."""
    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None and _plain(param.type_descriptor):
            descriptor = param.type_descriptor
            param._runtime_param = PlainRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, descriptor=descriptor
            )


def _plain(descriptor: TypeDescriptor) -> bool:
    """A parameter without a custom parser or an opened file, of one type or a list of one."""
    if descriptor.parameter_info.parser is not None or descriptor.file_annotation is not None:
        return False
    annotation = descriptor.annotation
    return get_origin(annotation) is None or (get_origin(annotation) is list and len(get_args(annotation)) == 1)


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx) -> Any:
        try:
            if get_origin(self.annotation) is list:
                (item,) = get_args(self.annotation)
                items = value if isinstance(value, (list, tuple)) else [value]
                return [self._coerced(item, one, param, ctx) for one in items]
            return self._coerced(self.annotation, value, param, ctx)
        except _NotPlain:
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def _coerced(self, annotation: Any, value: Any, param: _TyperParameter, ctx) -> Any:
        info = self.parameter_info
        if annotation is bool and isinstance(value, bool):
            return value
        if annotation is str and isinstance(value, str):
            return value
        if annotation in NUMBER_NAMES and not info.clamp:
            return _in_range(_number(annotation, value, param, ctx), info.min, info.max, param, ctx)
        if lenient_issubclass(annotation, Enum):
            try:
                return coerce_cli_choice(value, choices=tuple(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
            except ValueError as error:
                raise BadParameter(str(error), ctx=ctx, param=param) from None
        if lenient_issubclass(annotation, Path) and info.path_type is None and isinstance(value, (str, Path)):
            # typer's checks (exists, readable, ...), given a Path already: the part that needs pydantic is done
            return coerce_cli_path(annotation(value), info, path_type=annotation, param=param, ctx=ctx)
        raise _NotPlain


class _NotPlain(Exception):
    """A value this module does not coerce: typer's own coercion takes it."""


def _number(kind: type, value: Any, param: _TyperParameter, ctx) -> int | float:
    if type(value) is kind:
        return value
    if not isinstance(value, str):
        raise _NotPlain
    try:
        return kind(value)
    except ValueError:
        raise BadParameter(f"{value!r} is not a valid {NUMBER_NAMES[kind]}.", ctx=ctx, param=param) from None


def _in_range(number: int | float, low, high, param: _TyperParameter, ctx) -> int | float:
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"x>={low}" if high is None else f"x<={high}" if low is None else f"{low}<=x<={high}"
        raise BadParameter(f"{number} is not in the range {bounds}.", ctx=ctx, param=param)
    return number

"""The one registry of model classes: short names (CLI, config files) and file names.

Every place that turns a name into a model class (``dynascope train --model``, ``dynascope
demo --model``, :func:`dynascope.training.build_model`, :func:`dynascope.load` reading the
``model_type`` of a model file, :func:`dynascope.io.import_torch_state_dict`) asks this module.
"""

from __future__ import annotations

from ..exceptions import InvalidParameterError
from ._base import RNNModel

__all__ = ["MODELS", "MODEL_TYPES", "get_model_type", "register_model"]

#: Model classes by short name (``"gru"``, ``"lowrank"``, ...): the names of the CLI and of
#: config files, in registration order.
MODELS: dict[str, type[RNNModel]] = {}

#: The same classes by the ``model_type`` written into model files (``"GRU"``, ...).
MODEL_TYPES: dict[str, type[RNNModel]] = {}


def register_model(name: str, cls: type[RNNModel]) -> type[RNNModel]:
    """Register ``cls`` under the short ``name`` and under its ``model_type``.

    Raises
    ------
    InvalidParameterError
        If ``cls`` is not an :class:`RNNModel` subclass with a ``model_type``, or either name
        is taken by another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, RNNModel) and cls.model_type):
        raise InvalidParameterError(
            f"register_model needs an RNNModel subclass that sets `model_type`; got {cls!r}."
        )
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise InvalidParameterError(
            f"A model's short name must be a lower-case identifier; got {name!r}."
        )
    for table, key in ((MODELS, name), (MODEL_TYPES, cls.model_type)):
        if table.get(key, cls) is not cls:
            raise InvalidParameterError(
                f"The model name {key!r} is already registered for {table[key].__name__}; "
                "choose another name."
            )
    MODELS[name] = cls
    MODEL_TYPES[cls.model_type] = cls
    return cls


def get_model_type(name: str, owner: str = "get_model_type") -> type[RNNModel]:
    """The model class registered as ``name`` (a short name, or a file's ``model_type``).

    Raises
    ------
    InvalidParameterError
        For an unknown name; the message lists the known short names.
    """
    if isinstance(name, str):
        if name in MODELS:
            return MODELS[name]
        if name in MODEL_TYPES:
            return MODEL_TYPES[name]
    choices = ", ".join(repr(k) for k in MODELS)
    raise InvalidParameterError(
        f"The 'model' parameter of {owner} must be one of {{{choices}}}. Got {name!r} instead."
    )

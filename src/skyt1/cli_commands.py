"""Imports every module that defines `skyt1` subcommands (add yours here)."""
from .scoring import cli as _scoring_cli  # noqa: F401,E402  (skyt1 score)
from .data import cli as _data_cli  # noqa: F401,E402  (skyt1 data list)
from . import recipe as _recipe  # noqa: F401,E402  (skyt1 recipe, skyt1 artifacts)
from . import cost as _cost_cli  # noqa: F401,E402  (skyt1 cost)
from . import lock as _lock_cli  # noqa: F401,E402  (skyt1 lock)

"""`hitcount strategies`: the registry's strategies and their parameters."""

from typing import Any

from hitcount.cli import options as opt
from hitcount.cli.render import Renderer
from hitcount.model.metrics import plain
from hitcount.strategies import available_strategies, get_strategy


def _registry_rows() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "summary": get_strategy(name).summary,
            "params": [
                {"name": p.name, "flag": p.flag, "default": p.default, "help": p.help}
                for p in get_strategy(name).params_spec
            ],
        }
        for name in available_strategies()
    ]


def strategies(json_output: opt.JsonFlag = False) -> None:
    """The counting strategies and their parameters.

    Example: hitcount strategies --json
    """
    rows = _registry_rows()
    render = Renderer(json_output=json_output)
    if json_output:
        render.json(rows)
        return
    table = render.table("strategy", "parameters", "what it does")
    for row in rows:
        flags = " ".join(f"{p['flag']} {plain(p['default'])}" for p in row["params"])
        table.add_row(row["name"], flags, row["summary"])
    render.show(table)

"""`hitcount demo`: the five scenarios of the original design, on a simulated clock."""

from typing import Annotated, Any

import typer
from rich.text import Text

from hitcount.cli import completion as complete
from hitcount.cli import options as opt
from hitcount.cli.render import Renderer, counted, safe
from hitcount.errors import ConfigurationError
from hitcount.ops.demo import SCENARIOS, Scenario, run_demo


def demo(
    scenario: Annotated[
        list[int] | None,
        typer.Option(
            "--scenario",
            "-n",
            help="Run only these scenarios (1-5; repeatable).",
            show_default=False,
            autocompletion=complete.scenarios,
        ),
    ] = None,
    json_output: opt.JsonFlag = False,
) -> None:
    """Run the five scenarios of the original design on a simulated clock, with traces.

    Example: hitcount demo --scenario 3
    """
    unknown = sorted(set(scenario or []) - set(SCENARIOS))
    if unknown:
        raise ConfigurationError(f"no scenario {unknown[0]}; choose from 1-{len(SCENARIOS)}")
    results = run_demo(scenario)
    render = Renderer(json_output=json_output)
    if json_output:
        render.json([_scenario_json(s) for s in results])
    else:
        for result in results:
            _print_scenario(render, result)
    if not all(result.passed for result in results):
        raise typer.Exit(1)


def _scenario_json(s: Scenario) -> dict[str, Any]:
    return {
        "scenario": s.number,
        "title": s.title,
        "passed": s.passed,
        "lines": s.lines,
        "events": s.events,
        "untraced": s.untraced,
    }


def _print_scenario(render: Renderer, s: Scenario) -> None:
    render.title(f"{s.number}. {s.title}")
    for line in s.lines:
        render.line(f"  {line}")
    for event in s.events:
        details = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("event", "clock"))
        render.line(Text(f"  event {event['event']}", style="cyan"), f" {safe(details)}")
    for name, count in s.untraced.items():
        render.line(Text(f"  ... and {counted(count, f'more {name} event')}", style="cyan"))

"""`replay --alert`: the rules, their lines on stderr, and `--exit-on-alert`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hitcount.cli.render import Renderer
from hitcount.engine import HitCounter
from hitcount.engine.alerts import AlertRule
from hitcount.errors import AlertStopError, ConfigurationError
from hitcount.model.events import THRESHOLD_CLEARED, THRESHOLD_EXCEEDED, Event
from hitcount.model.metrics import plain
from hitcount.model.timeparse import iso

# Start-up: the `--alert-exec` runner (threads, subprocess) loads only with that option.
if TYPE_CHECKING:
    from hitcount.ops.hooks import AlertExec


def parse_rules(specs: list[str] | None, exit_on_alert: bool) -> list[AlertRule]:
    """The `--alert` rules, checked before any state is touched.

    Raises:
        ConfigurationError: a rule that does not parse, or `--exit-on-alert` without a rule.
    """
    rules = [AlertRule.parse(spec) for spec in specs or []]
    if exit_on_alert and not rules:
        raise ConfigurationError(
            "--exit-on-alert needs at least one --alert", hint="e.g. --alert '/login>100/60s'"
        )
    return rules


def alert_exec(
    command: str | None, timeout_s: float, rules: list[AlertRule], render: Renderer
) -> AlertExec | None:
    """The `--alert-exec` hook runner (None without the option), checked before any work.

    Raises:
        ConfigurationError: no `--alert`, a bad command, or a timeout not > 0.
    """
    if command is None:
        return None
    if not rules:
        raise ConfigurationError(
            "--alert-exec needs at least one --alert", hint="e.g. --alert '/login>100/60s'"
        )
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ConfigurationError(f"--alert-exec-timeout must be > 0 seconds, got {timeout_s}")
    from hitcount.ops.hooks import AlertExec, parse_command

    return AlertExec(parse_command(command), timeout_s, render.warn)


class AlertWatch:
    """Watches `rules` on `counter`: prints each alert, and notes the first for an early exit."""

    def __init__(
        self,
        counter: HitCounter,
        rules: list[AlertRule],
        render: Renderer,
        exit_on_alert: bool,
        hook: AlertExec | None = None,
    ) -> None:
        """Add the rules to `counter` and subscribe the printer (and the hook)."""
        self.render, self.hook = render, hook
        self.exit_on_alert = exit_on_alert
        self.first: Event | None = None
        for rule in rules:
            counter.add_alert(rule)
        if rules:
            counter.subscribe(THRESHOLD_EXCEEDED, self._show)
            counter.subscribe(THRESHOLD_CLEARED, self._show)

    def _show(self, event: Event) -> None:
        # after the first alert the rest of its batch is still counted and saved, so its
        # alerts are announced too: a resumed run starts after them
        self.render.alert(event)
        if self.hook is not None:
            self.hook(event)
        if self.exit_on_alert and event.name == THRESHOLD_EXCEEDED and self.first is None:
            self.first = event

    def stop_requested(self) -> bool:
        """Whether the replay should end now (`--exit-on-alert` and an alert fired)."""
        return self.first is not None

    def finish(self) -> None:
        """After the state is saved: end with exit code 9 if an alert stopped the replay.

        Raises:
            AlertStopError: `--exit-on-alert` and an alert fired.
        """
        if self.first is None:
            return
        data = self.first.payload
        raise AlertStopError(
            f"stopped at the first alert (--exit-on-alert): {data['endpoint']} went above"
            f" {data['limit']} hits in {plain(data['window'])}s at {iso(data['ts'])};"
            " the hits read up to the end of that batch were counted and saved, and their"
            " alerts shown"
        )

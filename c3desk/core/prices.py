"""What tokens cost: an agent profile's price table, per model name pattern.

A :class:`Price` names the models it applies to with a shell-style pattern (``fnmatch``, case
not significant) and gives US dollars per million tokens for input, output, cache writes (the
5-minute lifetime, and the 1-hour one) and cache reads. The first entry whose pattern matches a
model wins, so the more specific patterns come first. In ``agents.toml`` (see
:mod:`c3desk.core.agents`)::

    [[claude.prices]]
    model = "claude-opus-5-5*"   # the model id in the transcript, e.g. claude-opus-5-5-20260921
    input = 4.0                  # $ per million input tokens (required)
    output = 20.0                # $ per million output tokens (required)
    cache_write = 5.0            # 5-minute cache writes (default 1.25 x input)
    cache_write_1h = 8.0         # 1-hour cache writes (default 2 x input)
    cache_read = 0.20            # cache hits (default 0.1 x input)

A profile's own entries are tried before the ones it inherits.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_PRICES", "PRICE_KEYS", "Price", "parse_prices", "price_for"]

MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens for the models ``model`` matches (an fnmatch pattern)."""

    model: str
    input: float
    output: float
    cache_write: float
    cache_read: float
    cache_write_1h: float

    def matches(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model.lower(), self.model.lower())

    def cost(
        self, input: int, output: int, cache_write: int, cache_read: int, cache_write_1h: int = 0
    ) -> float:
        """Dollars for these tokens; ``cache_write_1h`` is the part of ``cache_write`` written
        with the 1-hour lifetime."""
        five_minutes = max(cache_write - cache_write_1h, 0)
        return (
            input * self.input
            + output * self.output
            + five_minutes * self.cache_write
            + min(cache_write_1h, cache_write) * self.cache_write_1h
            + cache_read * self.cache_read
        ) / MILLION


def _p(
    model: str, input: float, output: float, write: float, write_1h: float, read: float
) -> Price:
    return Price(model, input, output, write, read, write_1h)


# Anthropic's list prices in US dollars per million tokens (input, output, 5-minute cache
# write, 1-hour cache write, cache read), looked up on 2026-12-07: the Opus 4.x/5/5.5, Sonnet
# 4.x/5/5.5, Haiku 3/3.5/4.5 and Fable/Mythos 5/5.1 rows from platform.claude.com (about-claude/
# pricing and the models' overview pages); Fable/Mythos 5.2, Haiku 5.5 and the Sonnet 5.5
# cache-read cut of 2026-10-07 as public usage trackers' release notes cite that page (checked
# there 2026-12-01). Most specific patterns first. Haiku 5.5: the rate for prompts up to 100K
# tokens (longer prompts cost 5x; a transcript does not say which applied).
DEFAULT_PRICES: tuple[Price, ...] = (
    _p("claude-fable-5-2*", 8.0, 40.0, 10.0, 16.0, 0.20),
    _p("claude-mythos-5-2*", 8.0, 40.0, 10.0, 16.0, 0.20),
    _p("claude-fable-5-1*", 10.0, 50.0, 12.50, 20.0, 0.25),
    _p("claude-mythos-5-1*", 10.0, 50.0, 12.50, 20.0, 0.25),
    _p("claude-fable-5*", 10.0, 50.0, 12.50, 20.0, 1.00),
    _p("claude-mythos-5*", 10.0, 50.0, 12.50, 20.0, 1.00),
    _p("claude-opus-5-5*", 4.0, 20.0, 5.0, 8.0, 0.20),
    _p("claude-opus-5*", 5.0, 25.0, 6.25, 10.0, 0.50),
    _p("claude-opus-4-[5-9]*", 5.0, 25.0, 6.25, 10.0, 0.50),
    _p("claude-opus-4*", 15.0, 75.0, 18.75, 30.0, 1.50),
    _p("claude-3-opus*", 15.0, 75.0, 18.75, 30.0, 1.50),
    _p("claude-sonnet-5-5*", 2.0, 10.0, 2.50, 4.0, 0.10),
    _p("claude-sonnet-5*", 2.0, 10.0, 2.50, 4.0, 0.20),
    _p("claude-sonnet-4*", 3.0, 15.0, 3.75, 6.0, 0.30),
    _p("claude-3-7-sonnet*", 3.0, 15.0, 3.75, 6.0, 0.30),
    _p("claude-3-5-sonnet*", 3.0, 15.0, 3.75, 6.0, 0.30),
    _p("claude-haiku-5-5*", 0.10, 0.50, 0.125, 0.20, 0.01),
    _p("claude-haiku-4*", 1.0, 5.0, 1.25, 2.0, 0.10),
    _p("claude-3-5-haiku*", 0.80, 4.0, 1.0, 1.6, 0.08),
    _p("claude-3-haiku*", 0.25, 1.25, 0.30, 0.50, 0.03),
)

#: The keys of one ``prices`` entry; ``model``, ``input`` and ``output`` are required.
PRICE_KEYS = ("model", "input", "output", "cache_write", "cache_write_1h", "cache_read")


def price_for(prices: tuple[Price, ...] | list[Price], model: str) -> Price | None:
    """The first price whose pattern matches ``model``; None when none does."""
    return next((p for p in prices if p.matches(model)), None)


# (message, index of the entry, key) -> the error to raise (it names the file and the line).
ErrorAt = Callable[[str, int | None, str | None], Exception]


def parse_prices(value: object, error: ErrorAt) -> list[Price]:
    """The ``prices`` array of an agents.toml profile; ``error`` makes the exception for a
    mistake (an unknown key, a missing or negative price, a pattern that is not a string)."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise error("'prices' must be an array of tables ([[profile.prices]])", None, None)
    return [_entry(item, i, error) for i, item in enumerate(value)]


def _entry(item: Mapping[str, Any], index: int, error: ErrorAt) -> Price:
    for key in item:
        if key not in PRICE_KEYS:
            raise error(
                f"unknown key '{key}' in a 'prices' entry (one of: {', '.join(PRICE_KEYS)})",
                index,
                key,
            )
    model = item.get("model")
    if not isinstance(model, str) or not model.strip():
        raise error(
            "each 'prices' entry needs 'model', a model name pattern such as \"claude-opus-*\"",
            index,
            "model",
        )
    values: dict[str, float] = {}
    for key in PRICE_KEYS[1:]:
        if key not in item:
            if key in ("input", "output"):
                raise error(
                    f"the 'prices' entry for '{model}' needs '{key}' (dollars per million tokens)",
                    index,
                    None,
                )
            continue
        number = item[key]
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not math.isfinite(number)
            or number < 0
        ):
            raise error(
                f"'{key}' of the 'prices' entry for '{model}' must be a number of dollars per "
                f"million tokens, 0 or more (not {number!r})",
                index,
                key,
            )
        values[key] = float(number)
    base = values["input"]
    return Price(
        model.strip(),
        base,
        values["output"],
        values.get("cache_write", base * 1.25),
        values.get("cache_read", base * 0.1),
        values.get("cache_write_1h", base * 2.0),
    )

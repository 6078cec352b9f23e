"""Property-based API testing over the OpenAPI schema (schemathesis): no request gets a 5xx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

#: Adjusts a generated case before it is sent (``n`` counts the requests sent so far) and
#: returns the headers to send it with.
Prepare = Callable[[Any, int], dict[str, str] | None]


@dataclass
class FuzzResult:
    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def fuzz_operations(
    base_url: str,
    path_regex: str,
    *,
    examples: int,
    prepare: Prepare | None = None,
    timeout: float = 60,
) -> FuzzResult:
    """Send ``examples`` generated requests to each operation whose path matches
    ``path_regex``; collect the statuses and every 5xx."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api").include(path_regex=path_regex)
    out = FuzzResult()
    for result in schema.get_all_operations():
        op = result.ok()
        out.operations += 1

        @given(case=op.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            headers = prepare(case, sum(out.statuses.values())) if prepare else None
            response = case.call(headers=headers, timeout=timeout)
            out.statuses[response.status_code] += 1
            if response.status_code >= 500:
                out.failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
                    f"{response.status_code}"
                )

        run()
    print(f"{out.operations} operations, responses by status: {dict(out.statuses)}")
    return out

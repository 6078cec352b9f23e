"""Property-based API testing over the OpenAPI schema (schemathesis): no request gets a 5xx,
and, with ``checks``, every response is one the schema describes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CheckFunction
from schemathesis.core.failures import FailureGroup

#: Adjusts a generated case before it is sent (``n`` counts the requests sent so far) and
#: returns the headers to send it with.
Prepare = Callable[[Any, int], dict[str, str] | None]


@dataclass
class FuzzResult:
    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    #: The statuses of each operation ("GET /path/{param}").
    by_operation: defaultdict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    failures: list[str] = field(default_factory=list)


def fuzz_operations(
    base_url: str,
    path_regex: str,
    *,
    examples: int,
    prepare: Prepare | None = None,
    timeout: float = 60,
    checks: Sequence[CheckFunction] = (),
    derandomize: bool = False,
) -> FuzzResult:
    """Send ``examples`` generated requests to each operation whose path matches
    ``path_regex``; collect the statuses, every 5xx and every response that fails one of
    ``checks`` (schemathesis's, e.g. ``response_schema_conformance``). ``derandomize``: the
    same requests on every run."""
    # a fresh server builds its description on the first request: the same timeout
    loaded = schemathesis.openapi.from_url(f"{base_url}/api", timeout=timeout)
    schema = loaded.include(path_regex=path_regex)
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
            derandomize=derandomize,
        )
        def run(case: Any) -> None:
            headers = prepare(case, sum(out.statuses.values())) if prepare else None
            response = case.call(headers=headers, timeout=timeout)
            out.statuses[response.status_code] += 1
            out.by_operation[case.operation.label][response.status_code] += 1
            if response.status_code >= 500:
                out.failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
                    f"{response.status_code}"
                )
            if not checks:
                return
            try:
                case.validate_response(response, checks=list(checks), headers=headers)
            except FailureGroup as group:
                titles = "; ".join(f"{e.title}: {e.message}"[:300] for e in group.exceptions)
                out.failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {headers}: "
                    f"{response.status_code}: {titles}"
                )

        run()
    print(f"{out.operations} operations, responses by status: {dict(out.statuses)}")
    return out

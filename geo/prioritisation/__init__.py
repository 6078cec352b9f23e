"""Systematic conservation planning: which planning units to select, exactly and greedily.

Two problems, in the formulations of prioritizr and Marxan:

- **minimum set**: reach a target amount of every feature (for example 30 % of each species'
  habitat in each ecosystem) at the least total cost;
- **maximum coverage under a budget**: spend at most a budget and minimise the weighted sum of
  relative target shortfalls (prioritizr's ``add_min_shortfall_objective``).

Both accept units locked in (for example those already protected) and locked out (for example
a resort footprint), and a boundary penalty that favours compact plans. The boundary length of
a selection is ``sum_i x_i * perimeter_i - 2 * sum_(i,j) x_i * x_j * shared_ij``; the product
``x_i * x_j`` is linearised with one continuous edge variable ``y_ij <= x_i, y_ij <= x_j`` per
pair of neighbours, exactly as prioritizr does, so the problem stays a mixed-integer *linear*
program. It is solved by HiGHS (through ``highspy``) with a relative gap and a
time limit; the gap reported is the solver's own (from its dual bound), never a guess.

Targets that no plan can reach (too little of a feature outside the locked-out units) are found
before solving and raised as :class:`geo.errors.Infeasible` with the features named.

Examples
--------
>>> import numpy as np
>>> p = Problem.from_arrays(
...     cost=[1.0, 2.0, 1.5],
...     amounts=[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
...     features=["a", "b"],
...     targets=[1.0, 1.0],
... )
>>> solve(p).selected.tolist()
[False, False, True]
"""

from __future__ import annotations

from geo.prioritisation.exact import (
    solve,
)
from geo.prioritisation.greedy import (
    solve_greedy,
)
from geo.prioritisation.metrics import (
    compare_groups,
    grant_opportunities,
    irreplaceability,
    rank_units,
    replacement_cost,
    selection_frequency,
    target_table,
)
from geo.prioritisation.problem import (
    OBJECTIVES,
    Boundary,
    Problem,
    Solution,
    check_feasible,
    evaluate,
    is_feasible,
)

__all__ = [
    "OBJECTIVES",
    "Boundary",
    "Problem",
    "Solution",
    "check_feasible",
    "compare_groups",
    "evaluate",
    "grant_opportunities",
    "irreplaceability",
    "is_feasible",
    "rank_units",
    "replacement_cost",
    "selection_frequency",
    "solve",
    "solve_greedy",
    "target_table",
]

"""What a plan means: targets met, selection frequency, replacement cost, irreplaceability,
ranks, comparisons between groups and grant opportunities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from geo.errors import Infeasible, InvalidInput
from geo.prioritisation.exact import (
    solve,
)
from geo.prioritisation.greedy import (
    _dense_amounts,
)
from geo.prioritisation.problem import (
    TARGET_RTOL,
    Problem,
    Solution,
)


def target_table(problem: Problem, solution: Solution) -> pd.DataFrame:
    """Each feature's target, the amount the plan holds, and whether the target is met.

    Returns
    -------
    DataFrame
        Columns ``feature, total, target, target_share, held, held_share, met, shortfall``.
    """
    total = problem.totals
    t = problem.targets
    held = solution.held
    with np.errstate(divide="ignore", invalid="ignore"):
        target_share = np.where(total > 0, t / total, 0.0)
        held_share = np.where(total > 0, held / total, 0.0)
    return pd.DataFrame(
        {
            "feature": list(problem.features),
            "total": total,
            "target": t,
            "target_share": target_share,
            "held": held,
            "held_share": held_share,
            "met": held >= t * (1 - TARGET_RTOL),
            "shortfall": np.maximum(t - held, 0.0),
        }
    )


def selection_frequency(
    problem: Problem,
    *,
    runs: int = 10,
    sigma: float = 0.3,
    seed: int = 0,
    gap: float = 0.01,
    time_limit: float | None = 30.0,
) -> np.ndarray:
    """How often each unit is selected over a portfolio of plans with perturbed costs.

    Each run multiplies every cost by a log-normal factor (``sigma`` on the log scale) and
    solves the problem exactly; a unit that is chosen whatever the costs is irreplaceable in
    practice. Locked-in units always score 1, locked-out units 0.

    Returns
    -------
    ndarray (n,)
        Share of runs in which each unit was selected (0–1).
    """
    if runs < 1:
        raise InvalidInput("a portfolio needs at least one run")
    rng = np.random.default_rng(seed)
    counts = np.zeros(problem.n_units)
    for _ in range(runs):
        noise = rng.lognormal(0.0, sigma, problem.n_units)
        sol = solve(problem.with_cost(problem.cost * noise), gap=gap, time_limit=time_limit)
        counts += sol.selected
    return counts / runs


def replacement_cost(
    problem: Problem,
    solution: Solution,
    units: Sequence[int] | np.ndarray | None = None,
    *,
    gap: float = 0.0,
    time_limit: float | None = 30.0,
) -> np.ndarray:
    """How much worse the best plan gets without each unit (prioritizr's replacement cost).

    For every selected unit asked for, the problem is solved again with that unit locked
    out; its replacement cost is the rise of the objective. ``inf`` means the targets cannot
    be met without it (irreplaceable); 0 that an equally good plan exists without it.

    Parameters
    ----------
    units : sequence of int, optional
        Indices of selected units to evaluate (default: every selected unit not locked in).

    Returns
    -------
    ndarray (n,)
        Replacement cost per unit; NaN for units not evaluated (not selected, locked in, or
        not asked for).
    """
    out = np.full(problem.n_units, np.nan)
    chosen = np.flatnonzero(solution.selected & ~problem.locked_in) if units is None else units
    for k in np.asarray(chosen, dtype=int):
        if not solution.selected[k] or problem.locked_in[k]:
            continue
        lout = problem.locked_out.copy()
        lout[k] = True
        try:
            alt = solve(replace(problem, locked_out=lout), gap=gap, time_limit=time_limit)
        except Infeasible:
            out[k] = np.inf
            continue
        out[k] = max(0.0, alt.objective - solution.objective)
    return out


def irreplaceability(problem: Problem) -> np.ndarray:
    """A unit's share of what is needed: ``max_f min(1, amount_fi / target_f)``.

    1 means the unit alone could meet a feature's target, or (through :func:`rank_units`
    combined with selection frequency) that it is chosen in every plan. Cheap to compute,
    used to break ties between units selected equally often.
    """
    a = _dense_amounts(problem)
    t = problem.targets
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(t[:, None] > 0, a / np.where(t > 0, t, 1.0)[:, None], 0.0)
    out = np.clip(share, 0.0, 1.0).max(axis=0) if len(t) else np.zeros(problem.n_units)
    out[problem.locked_out] = 0.0
    return out


def rank_units(
    problem: Problem,
    solution: Solution,
    frequency: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rank units: by selection frequency, then selection, then irreplaceability per cost.

    Returns
    -------
    DataFrame
        Indexed like the problem's units: ``unit_id, selected, frequency, irreplaceability,
        rank`` (1 = highest priority; locked-out units are ranked last).
    """
    freq = solution.selected.astype(float) if frequency is None else np.asarray(frequency)
    irr = irreplaceability(problem)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cost = np.where(problem.cost > 0, irr / problem.cost, irr * 1e12)
    order = np.lexsort(
        (-per_cost, -solution.selected.astype(int), -freq, problem.locked_out.astype(int))
    )
    rank = np.empty(problem.n_units, dtype=int)
    rank[order] = np.arange(1, problem.n_units + 1)
    return pd.DataFrame(
        {
            "unit_id": problem.unit_ids,
            "selected": solution.selected,
            "frequency": freq,
            "irreplaceability": irr,
            "rank": rank,
        }
    )


def compare_groups(problem: Problem, solution: Solution, groups: Mapping[str, str]) -> pd.DataFrame:
    """Compare groups of features (for example mountains and arid lowlands).

    Parameters
    ----------
    groups : mapping
        Feature name -> group name (features not named are left out).

    Returns
    -------
    DataFrame
        One row per group: ``features, met, total, target, held, held_share``.
    """
    table = target_table(problem, solution)
    table["group"] = table["feature"].map(dict(groups))
    table = table.dropna(subset=["group"])
    out = table.groupby("group").agg(
        features=("feature", "count"),
        met=("met", "sum"),
        total=("total", "sum"),
        target=("target", "sum"),
        held=("held", "sum"),
    )
    out["held_share"] = np.where(out["total"] > 0, out["held"] / out["total"], 0.0)
    out["met"] = out["met"].astype(int)
    return out.reset_index()


def grant_opportunities(
    problem: Problem,
    current: np.ndarray,
    covered: np.ndarray,
    *,
    solution: Solution | None = None,
    top: int | None = 20,
) -> pd.DataFrame:
    """Units where a new grant would add the most to unmet targets.

    Parameters
    ----------
    current : ndarray of bool (n,)
        Units that already count towards the targets (protected, or covered by grants).
    covered : ndarray of bool (n,)
        Units already covered by field sites: they are not candidates.
    solution : Solution, optional
        If given, the table says whether each candidate is in the plan.

    Returns
    -------
    DataFrame
        Candidates sorted by ``contribution`` (the weighted relative shortfall they would
        close on their own), with ``contribution_per_cost`` and the features they help.
    """
    a = _dense_amounts(problem)
    t = problem.targets
    held = a @ np.asarray(current, dtype=float)
    remaining = np.maximum(t - held, 0.0)
    scale = np.where(t > 0, t, 1.0)
    part = np.minimum(a, remaining[:, None]) / scale[:, None]
    contribution = part.sum(axis=0)
    candidates = ~np.asarray(covered, bool) & ~problem.locked_out & (contribution > 0)
    idx = np.flatnonzero(candidates)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cost = np.where(problem.cost[idx] > 0, contribution[idx] / problem.cost[idx], np.inf)
    helps = [", ".join(problem.features[f] for f in np.flatnonzero(part[:, k] > 0)) for k in idx]
    out = pd.DataFrame(
        {
            "unit_id": problem.unit_ids[idx],
            "contribution": contribution[idx],
            "contribution_per_cost": per_cost,
            "cost": problem.cost[idx],
            "features": helps,
        }
    )
    if solution is not None:
        out["in_plan"] = solution.selected[idx]
    out = out.sort_values(["contribution", "contribution_per_cost"], ascending=False)
    out = out.reset_index(drop=True)
    return out.head(top) if top is not None else out

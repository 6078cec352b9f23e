"""The greedy heuristic: fill targets by the cheapest marginal gain, prune, respect a budget
(a bound and a fallback for the exact solver)."""

from __future__ import annotations

import time

import numpy as np

from geo.errors import Infeasible
from geo.prioritisation.problem import (
    TARGET_RTOL,
    Problem,
    Solution,
    _solution,
    check_feasible,
    evaluate,
)


def solve_greedy(problem: Problem) -> Solution:
    """A greedy heuristic: the baseline the exact solver is compared with.

    Minimum set: starting from the locked-in units, repeatedly add the unit with the largest
    contribution to the remaining relative target gaps per unit of (cost + boundary change),
    then drop units that became redundant, most expensive first. Maximum coverage: add the
    unit with the best shortfall reduction per cost that still fits in the budget, while
    any unit reduces the shortfall.

    Raises
    ------
    Infeasible
        As :func:`solve`.
    """
    check_feasible(problem)
    start = time.perf_counter()
    selected = problem.locked_in.copy()
    if problem.objective == "min_set":
        selected = _greedy_fill(problem, selected)
        selected = _greedy_prune(problem, selected)
    else:
        selected = _greedy_budget(problem, selected)
    return _solution(
        problem,
        selected,
        method="greedy",
        status="heuristic",
        runtime_s=time.perf_counter() - start,
    )


def _dense_amounts(problem: Problem) -> np.ndarray:
    return np.asarray(problem.amounts.toarray(), dtype="float64")


def _marginal_cost(problem: Problem, selected: np.ndarray) -> np.ndarray:
    cost = problem.cost.copy()
    if problem.boundary is not None and problem.boundary_penalty > 0:
        b = problem.boundary
        cost = cost + problem.boundary_penalty * (b.perimeter - 2 * b.shared_with(selected))
    positive = cost[cost > 0]
    floor = 1e-9 * (positive.mean() if len(positive) else 1.0)
    return np.maximum(cost, floor)


def _greedy_fill(problem: Problem, selected: np.ndarray) -> np.ndarray:
    a = _dense_amounts(problem)
    t = problem.targets
    held = a @ selected.astype("float64")
    scale = np.where(t > 0, t, 1.0)
    goal = t * (1 - TARGET_RTOL)
    available = ~selected & ~problem.locked_out
    while (held < goal).any():
        remaining = np.maximum(t - held, 0.0)
        gain = (np.minimum(a, remaining[:, None]) / scale[:, None]).sum(axis=0)
        gain[~available] = -1.0
        score = gain / _marginal_cost(problem, selected)
        score[gain <= 0] = -np.inf
        best = int(np.argmax(score))
        if not np.isfinite(score[best]):  # cannot happen after check_feasible
            raise Infeasible("the greedy heuristic ran out of units before meeting the targets")
        selected[best] = True
        available[best] = False
        held += a[:, best]
    return selected


def _greedy_prune(problem: Problem, selected: np.ndarray) -> np.ndarray:
    a = _dense_amounts(problem)
    goal = problem.targets * (1 - TARGET_RTOL)
    held = a @ selected.astype("float64")
    removable = np.flatnonzero(selected & ~problem.locked_in)
    for k in removable[np.argsort(-problem.cost[removable], kind="stable")]:
        after = held - a[:, k]
        if (after >= goal).all():
            trial = selected.copy()
            trial[k] = False
            if evaluate(problem, trial) <= evaluate(problem, selected):
                selected = trial
                held = after
    return selected


def _greedy_budget(problem: Problem, selected: np.ndarray) -> np.ndarray:
    assert problem.budget is not None
    a = _dense_amounts(problem)
    t = problem.targets
    w = np.where(t > 0, problem.feature_weights / np.where(t > 0, t, 1.0), 0.0)
    held = a @ selected.astype("float64")
    spent = float(problem.cost[selected].sum())
    available = ~selected & ~problem.locked_out
    while True:
        remaining = np.maximum(t - held, 0.0)
        gain = (np.minimum(a, remaining[:, None]) * w[:, None]).sum(axis=0)
        fits = available & (problem.cost <= problem.budget - spent + 1e-9)
        gain[~fits] = 0.0
        if not (gain > 0).any():
            break
        score = gain / _marginal_cost(problem, selected)
        score[gain <= 0] = -np.inf
        best = int(np.argmax(score))
        trial = selected.copy()
        trial[best] = True
        if evaluate(problem, trial) >= evaluate(problem, selected):
            available[best] = False  # its boundary cost outweighs its gain
            continue
        selected = trial
        available[best] = False
        spent += float(problem.cost[best])
        held += a[:, best]
    return selected


# --------------------------------------------------------------------------------------------
# Outputs: targets table, ranking, comparisons, new grants
# --------------------------------------------------------------------------------------------

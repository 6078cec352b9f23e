"""The exact solver: the problem as a mixed-integer linear program solved by HiGHS, with the
solver's own gap (prioritizr's formulation)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import highspy
import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint

from geo.errors import Infeasible, InvalidInput
from geo.prioritisation.greedy import _greedy_fill, _greedy_prune
from geo.prioritisation.problem import (
    Problem,
    Solution,
    _boundary_weight,
    _cost_weight,
    _solution,
    check_feasible,
    is_feasible,
)


def solve(
    problem: Problem,
    *,
    gap: float = 0.0,
    time_limit: float | None = 60.0,
    threads: int | None = None,
    verbose: bool = False,
) -> Solution:
    """Solve ``problem`` exactly as a mixed-integer linear program with HiGHS.

    Parameters
    ----------
    problem : Problem
    gap : float
        Relative optimality gap at which HiGHS may stop (0.01 = within 1 % of optimal).
    time_limit : float, optional
        Seconds; the best plan found so far is returned with ``status="time_limit"`` and
        the gap the solver proved.
    threads : int, optional
        Unused by HiGHS' MIP solver (which is single-threaded); kept for the record.
    verbose : bool
        Print HiGHS' log.

    Returns
    -------
    Solution

    Raises
    ------
    Infeasible
        The targets, locks or budget cannot all be met (the features that cannot be met are
        in ``details``), or HiGHS found no plan within the time limit.

    Examples
    --------
    >>> p = Problem.from_arrays(cost=[2.5, 1, 1], amounts=[[2, 1, 1]], features=["f"],
    ...                         targets=[2])
    >>> solve(p).selected.tolist()
    [False, True, True]
    """
    if gap < 0 or not np.isfinite(gap):
        raise InvalidInput("the gap must be a non-negative number")
    if time_limit is not None and time_limit <= 0:
        raise InvalidInput("the time limit must be positive")
    check_feasible(problem)
    start = time.perf_counter()
    c, constraints, lb, ub, integrality, offset = _milp_model(problem)
    # HiGHS also stops at an absolute gap of 1e-6: scale the objective so that this is
    # negligible whatever the units of cost (km², dollars, shares)
    scale = 1e6 / max(float(np.abs(c).sum()), 1e-12)
    run = _run_highs(
        c * scale,
        constraints,
        lb,
        ub,
        integrality,
        gap=gap,
        time_limit=time_limit,
        verbose=verbose,
    )
    runtime = time.perf_counter() - start
    if run.x is None:
        if run.status == "infeasible":
            raise Infeasible("HiGHS proved that no plan meets the constraints")
        raise Infeasible(
            f"HiGHS found no plan within the time limit ({time_limit} s): {run.status}",
            details={"status": run.status},
        )
    n = problem.n_units
    selected = run.x[:n] > 0.5
    selected |= problem.locked_in
    selected &= ~problem.locked_out
    if problem.objective == "min_set":
        selected = _repair_targets(problem, selected)
    status = "optimal" if run.status == "optimal" else "time_limit"  # optimal within ``gap``
    dual = run.dual_bound
    dual_bound = None if dual is None or not np.isfinite(dual) else float(dual) / scale + offset
    sol = _solution(problem, selected, method="exact", status=status, runtime_s=runtime)
    return replace(
        sol,
        gap=_gap(sol.objective, dual_bound, run.gap),
        dual_bound=dual_bound,
        nodes=run.nodes,
    )


@dataclass(frozen=True)
class _HighsRun:
    status: str  # optimal, time_limit, infeasible, or HiGHS' own status name
    x: np.ndarray | None
    dual_bound: float | None
    gap: float | None
    nodes: int | None


def _run_highs(
    c: np.ndarray,
    constraints: list[LinearConstraint],
    lb: np.ndarray,
    ub: np.ndarray,
    integrality: np.ndarray,
    *,
    gap: float,
    time_limit: float | None,
    verbose: bool,
) -> _HighsRun:
    """Solve ``min c·x`` subject to the constraints and bounds with HiGHS (highspy)."""
    ncol = len(c)
    if constraints:
        a = sparse.vstack([sparse.csr_matrix(k.A) for k in constraints]).tocsc()
        row_lo = np.concatenate([np.broadcast_to(k.lb, (k.A.shape[0],)) for k in constraints])
        row_hi = np.concatenate([np.broadcast_to(k.ub, (k.A.shape[0],)) for k in constraints])
    else:
        a = sparse.csc_matrix((0, ncol))
        row_lo = row_hi = np.zeros(0)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = np.asarray(c, dtype="float64")
    lp.col_lower_ = np.asarray(lb, dtype="float64")
    lp.col_upper_ = np.asarray(ub, dtype="float64")
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype("float64")
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
        for v in integrality
    ]
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(verbose))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", 1)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.passModel(lp)
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    status = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
        highspy.HighsModelStatus.kInfeasible: "infeasible",
    }.get(model_status, h.modelStatusToString(model_status))
    has_plan = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype="float64") if has_plan else None
    return _HighsRun(
        status=status,
        x=x,
        dual_bound=float(info.mip_dual_bound),
        gap=float(info.mip_gap) if np.isfinite(info.mip_gap) else None,
        nodes=int(info.mip_node_count),
    )


def _gap(objective: float, dual_bound: float | None, reported: float | None) -> float | None:
    """Relative gap ``(objective - bound) / |objective|``, as HiGHS defines it."""
    if dual_bound is None:
        return None if reported is None else float(reported)
    if abs(objective) < 1e-12:
        return 0.0 if abs(objective - dual_bound) < 1e-9 else float(reported or 0.0)
    return max(0.0, (objective - dual_bound) / abs(objective))


def _repair_targets(problem: Problem, selected: np.ndarray) -> np.ndarray:
    """Rounding a solver's near-integral answer must never break a target; re-add if so."""
    if is_feasible(problem, selected):
        return selected
    return _greedy_prune(problem, _greedy_fill(problem, selected.copy()))


def _milp_model(
    problem: Problem,
) -> tuple[np.ndarray, list[LinearConstraint], np.ndarray, np.ndarray, np.ndarray, float]:
    """Variables: x (units, binary), then y (edges, continuous), then s (relative shortfalls).

    Each target row is divided by its target, so every target constraint reads
    ``sum_i (a_fi / t_f) x_i (+ s_f) >= 1``: the solver's feasibility tolerance is then
    relative to the target, however small or large the amounts.
    """
    n = problem.n_units
    use_boundary = problem.boundary is not None and problem.boundary_penalty > 0
    e = problem.boundary.n_edges if use_boundary and problem.boundary is not None else 0
    max_cov = problem.objective == "max_coverage"
    t = problem.targets
    need = np.flatnonzero(t > 0)  # features with nothing to reach are always met
    k = len(need) if max_cov else 0
    nvar = n + e + k

    c = np.zeros(nvar)
    lb = np.zeros(nvar)
    ub = np.ones(nvar)
    integrality = np.zeros(nvar)
    integrality[:n] = 1
    lb[:n][problem.locked_in] = 1.0
    ub[:n][problem.locked_out] = 0.0
    offset = 0.0

    if max_cov:
        c[:n] = _cost_weight(problem) * problem.cost
    else:
        c[:n] = problem.cost
    constraints: list[LinearConstraint] = []
    relative = sparse.diags(1.0 / t[need]) @ problem.amounts.tocsr()[need]

    if use_boundary:
        assert problem.boundary is not None
        b, blm = problem.boundary, _boundary_weight(problem)
        c[:n] += blm * b.perimeter
        c[n : n + e] = -2.0 * blm * b.length
        rows = np.arange(e)
        # y_ij - x_i <= 0 and y_ij - x_j <= 0
        for ends in (b.i, b.j):
            a = sparse.csr_matrix(
                (
                    np.concatenate([np.ones(e), -np.ones(e)]),
                    (np.concatenate([rows, rows]), np.concatenate([n + rows, ends])),
                ),
                shape=(e, nvar),
            )
            constraints.append(LinearConstraint(a, -np.inf, 0.0))

    if max_cov:
        # held_f / t_f + s_f >= 1 with 0 <= s_f <= 1; minimise sum w_f s_f
        c[n + e :] = problem.feature_weights[need]
        if k:
            a = sparse.hstack(
                [relative, sparse.csr_matrix((k, e)), sparse.identity(k, format="csr")],
                format="csr",
            )
            constraints.append(LinearConstraint(a, np.ones(k), np.inf))
        budget_row = sparse.csr_matrix(np.concatenate([problem.cost, np.zeros(e + k)])[None, :])
        assert problem.budget is not None
        constraints.append(LinearConstraint(budget_row, -np.inf, problem.budget))
    elif len(need):
        a = sparse.hstack([relative, sparse.csr_matrix((len(need), e))], format="csr")
        constraints.append(LinearConstraint(a, np.ones(len(need)), np.inf))
    return c, constraints, lb, ub, integrality, offset


# --------------------------------------------------------------------------------------------
# Greedy heuristic (the baseline)
# --------------------------------------------------------------------------------------------

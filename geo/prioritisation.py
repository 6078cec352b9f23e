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

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import highspy
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import LinearConstraint

from geo.errors import Infeasible, InvalidInput

Objective = Literal["min_set", "max_coverage"]
OBJECTIVES: tuple[str, ...] = ("min_set", "max_coverage")

#: Relative tolerance when checking that a target is met (floating-point sums of areas).
TARGET_RTOL = 1e-6
#: In maximum coverage, cost breaks ties between plans with the same shortfall: selecting every
#: unit weighs this much against one whole feature's shortfall.
COST_TIEBREAK = 1e-4


# --------------------------------------------------------------------------------------------
# Problem and solution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    """Shared boundary lengths between planning units, for the compactness penalty.

    Parameters
    ----------
    perimeter : ndarray (n_units,)
        Each unit's whole perimeter (outer edges count in full, like prioritizr's
        ``edge_factor = 1``).
    i, j : ndarray (n_edges,)
        Indices of neighbouring units, ``i < j``.
    length : ndarray (n_edges,)
        Length of the boundary shared by ``i`` and ``j``.
    """

    perimeter: np.ndarray
    i: np.ndarray
    j: np.ndarray
    length: np.ndarray

    def __post_init__(self) -> None:
        i = np.asarray(self.i, dtype=np.int64)
        j = np.asarray(self.j, dtype=np.int64)
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        object.__setattr__(self, "i", lo)
        object.__setattr__(self, "j", hi)
        object.__setattr__(self, "perimeter", np.asarray(self.perimeter, dtype="float64"))
        object.__setattr__(self, "length", np.asarray(self.length, dtype="float64"))
        if not (len(lo) == len(hi) == len(self.length)):
            raise InvalidInput("boundary edges i, j and length must have the same length")
        if len(lo) and (lo == hi).any():
            raise InvalidInput("a unit cannot share a boundary with itself")
        if (self.length < 0).any() or (self.perimeter < 0).any():
            raise InvalidInput("boundary lengths must not be negative")

    @property
    def n_edges(self) -> int:
        return len(self.i)

    def length_of(self, selected: np.ndarray) -> float:
        """Boundary length of the plan ``selected`` (a boolean mask)."""
        s = np.asarray(selected, dtype=bool)
        inner = self.length[s[self.i] & s[self.j]].sum()
        return float(self.perimeter[s].sum() - 2.0 * inner)

    def shared_with(self, selected: np.ndarray) -> np.ndarray:
        """For every unit, the length of boundary it shares with the units in ``selected``."""
        s = np.asarray(selected, dtype=bool).astype("float64")
        out = np.zeros(len(self.perimeter))
        np.add.at(out, self.i, self.length * s[self.j])
        np.add.at(out, self.j, self.length * s[self.i])
        return out


@dataclass(frozen=True)
class Problem:
    """A conservation planning problem over ``n`` units and ``m`` features.

    Build it with :meth:`from_arrays` or :meth:`from_units`, which check the inputs.

    Attributes
    ----------
    unit_ids : ndarray (n,)
        Labels of the units (for example H3 indexes).
    cost : ndarray (n,)
        Cost of selecting each unit (non-negative).
    amounts : scipy.sparse.csr_matrix (m, n)
        Amount of each feature in each unit (for example km² of habitat).
    features : tuple of str
        Feature names.
    targets : ndarray (m,)
        Absolute targets, in the units of ``amounts``.
    locked_in, locked_out : ndarray of bool (n,)
        Units that must be, or must not be, selected.
    objective : {"min_set", "max_coverage"}
    budget : float, optional
        Total cost allowed (maximum coverage only).
    feature_weights : ndarray (m,)
        Weights of the relative shortfalls (maximum coverage only).
    boundary : Boundary, optional
    boundary_penalty : float
        Cost per unit of boundary length (Marxan's BLM); 0 switches the penalty off. In
        maximum coverage the outline's cost is counted relative to the budget.
    """

    unit_ids: np.ndarray
    cost: np.ndarray
    amounts: sparse.csr_matrix
    features: tuple[str, ...]
    targets: np.ndarray
    locked_in: np.ndarray
    locked_out: np.ndarray
    objective: Objective = "min_set"
    budget: float | None = None
    feature_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    boundary: Boundary | None = None
    boundary_penalty: float = 0.0

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        *,
        cost: Sequence[float] | np.ndarray,
        amounts: Any,
        features: Sequence[str],
        targets: Sequence[float] | np.ndarray,
        unit_ids: Sequence[Any] | np.ndarray | None = None,
        locked_in: Sequence[bool] | np.ndarray | None = None,
        locked_out: Sequence[bool] | np.ndarray | None = None,
        objective: Objective = "min_set",
        budget: float | None = None,
        feature_weights: Sequence[float] | np.ndarray | None = None,
        boundary: Boundary | None = None,
        boundary_penalty: float = 0.0,
    ) -> Problem:
        """Build and check a problem from arrays; ``targets`` are absolute amounts.

        Raises
        ------
        InvalidInput
            Shapes disagree, costs or amounts are negative or not finite, a unit is both
            locked in and locked out, or a budget is missing for maximum coverage.
        """
        c = np.asarray(cost, dtype="float64")
        n = len(c)
        a = sparse.csr_matrix(amounts, dtype="float64")
        feats = tuple(str(f) for f in features)
        t = np.asarray(targets, dtype="float64")
        m = len(feats)
        if n == 0:
            raise InvalidInput("the problem has no planning units")
        if m == 0:
            raise InvalidInput("the problem has no features: give at least one target")
        if a.shape != (m, n):
            raise InvalidInput(f"amounts must be features × units = {m} × {n}, got {a.shape}")
        if len(t) != m:
            raise InvalidInput(f"{len(t)} targets for {m} features")
        if len(set(feats)) != m:
            raise InvalidInput("feature names must be unique")
        if not np.isfinite(c).all() or (c < 0).any():
            raise InvalidInput("costs must be finite and not negative")
        if a.nnz and (not np.isfinite(a.data).all() or (a.data < 0).any()):
            raise InvalidInput("feature amounts must be finite and not negative")
        if not np.isfinite(t).all() or (t < 0).any():
            raise InvalidInput("targets must be finite and not negative")
        # targets too small to be measured (below 1e-12 of the feature's total) are nil
        totals = np.asarray(a.sum(axis=1)).ravel()
        t = np.where(t < 1e-12 * np.maximum(totals, 1.0), 0.0, t)
        ids = np.arange(n) if unit_ids is None else np.asarray(unit_ids)
        if len(ids) != n:
            raise InvalidInput(f"{len(ids)} unit ids for {n} units")
        lin = _mask(locked_in, n, "locked_in")
        lout = _mask(locked_out, n, "locked_out")
        both = np.flatnonzero(lin & lout)
        if len(both):
            raise InvalidInput(
                f"{len(both)} unit(s) are both locked in and locked out: "
                + ", ".join(str(ids[k]) for k in both[:10]),
                details={"units": [str(ids[k]) for k in both]},
            )
        if objective not in OBJECTIVES:
            raise InvalidInput(f"objective must be one of {', '.join(OBJECTIVES)}")
        if objective == "max_coverage" and (
            budget is None or not np.isfinite(budget) or budget < 0
        ):
            raise InvalidInput("maximum coverage needs a budget (a non-negative number)")
        w = np.ones(m) if feature_weights is None else np.asarray(feature_weights, "float64")
        if len(w) != m or (w < 0).any() or not np.isfinite(w).all():
            raise InvalidInput("feature weights: one non-negative number per feature")
        if boundary_penalty < 0 or not np.isfinite(boundary_penalty):
            raise InvalidInput("the boundary penalty must not be negative")
        if boundary is not None:
            if len(boundary.perimeter) != n:
                raise InvalidInput("boundary perimeters must be given for every unit")
            if boundary.n_edges and boundary.j.max() >= n:
                raise InvalidInput("boundary edges refer to units that do not exist")
        if boundary_penalty > 0 and boundary is None:
            raise InvalidInput("a boundary penalty needs the units' boundary lengths")
        return cls(
            unit_ids=ids,
            cost=c,
            amounts=a,
            features=feats,
            targets=t,
            locked_in=lin,
            locked_out=lout,
            objective=objective,
            budget=None if budget is None else float(budget),
            feature_weights=w,
            boundary=boundary,
            boundary_penalty=float(boundary_penalty),
        )

    @classmethod
    def from_units(
        cls,
        units: pd.DataFrame,
        features: Sequence[str],
        *,
        targets: float | Mapping[str, float] = 0.3,
        relative: bool = True,
        cost: str = "cost",
        id_column: str | None = None,
        locked_in: str | np.ndarray | None = None,
        locked_out: str | np.ndarray | None = None,
        **kwargs: Any,
    ) -> Problem:
        """Build a problem from a table of planning units (one column per feature).

        Parameters
        ----------
        units : DataFrame
            One row per unit; ``features`` and ``cost`` are columns.
        features : sequence of str
            The feature columns.
        targets : float or mapping
            One target for all features, or one per feature. With ``relative=True`` (the
            default) a target is a share (0–1) of the feature's total amount over all units.
        locked_in, locked_out : str or boolean array, optional
            A boolean column name, or a mask.
        **kwargs
            Passed to :meth:`from_arrays` (objective, budget, boundary, ...).
        """
        missing = [c for c in [*features, cost] if c not in units.columns]
        if missing:
            raise InvalidInput(f"planning units lack the column(s) {', '.join(missing)}")
        amounts = units[list(features)].fillna(0.0).to_numpy(dtype="float64").T
        total = amounts.sum(axis=1)
        if isinstance(targets, Mapping):
            unknown = sorted(set(targets) - set(features))
            if unknown:
                raise InvalidInput(f"targets for unknown features: {', '.join(unknown)}")
            shares = np.array([float(targets.get(f, 0.0)) for f in features])
        else:
            shares = np.full(len(features), float(targets))
        if relative:
            if (shares < 0).any() or (shares > 1).any():
                raise InvalidInput("relative targets must be shares between 0 and 1")
            absolute = shares * total
        else:
            absolute = shares
        ids = units[id_column].to_numpy() if id_column else units.index.to_numpy()
        return cls.from_arrays(
            cost=units[cost].to_numpy(dtype="float64"),
            amounts=amounts,
            features=list(features),
            targets=absolute,
            unit_ids=ids,
            locked_in=_column_mask(units, locked_in),
            locked_out=_column_mask(units, locked_out),
            **kwargs,
        )

    # -- properties ---------------------------------------------------------------------------

    @property
    def n_units(self) -> int:
        return len(self.cost)

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def totals(self) -> np.ndarray:
        """Total amount of each feature over all units."""
        return np.asarray(self.amounts.sum(axis=1)).ravel()

    @property
    def max_achievable(self) -> np.ndarray:
        """Amount of each feature outside the locked-out units: the most any plan can hold."""
        return self.amounts @ (~self.locked_out).astype("float64")

    def with_cost(self, cost: np.ndarray) -> Problem:
        """The same problem with other costs (for portfolios of perturbed problems)."""
        return replace(self, cost=np.asarray(cost, dtype="float64"))


def _mask(values: Sequence[bool] | np.ndarray | None, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise InvalidInput(f"{name} must have one value per unit ({n}), got {arr.shape}")
    return arr.astype(bool)


def _column_mask(units: pd.DataFrame, spec: str | np.ndarray | None) -> np.ndarray | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in units.columns:
            raise InvalidInput(f"planning units lack the column {spec}")
        return units[spec].fillna(False).to_numpy(dtype=bool)
    return np.asarray(spec, dtype=bool)


@dataclass(frozen=True)
class Solution:
    """A plan: which units are selected, what it costs and holds, and how it was found.

    Attributes
    ----------
    selected : ndarray of bool (n,)
    objective : float
        The problem's objective for this plan (see :func:`evaluate`).
    cost, boundary_length : float
    held : ndarray (m,)
        Amount of each feature in the plan.
    method : str
        ``"exact"`` (HiGHS) or ``"greedy"``.
    status : str
        ``"optimal"`` (proven within the requested gap; ``gap`` says how close),
        ``"time_limit"`` (the best plan found in the time, with the gap proven so far) or
        ``"heuristic"`` (greedy: no bound).
    gap : float or None
        Relative optimality gap from the solver's dual bound (exact only).
    dual_bound : float or None
        The solver's lower bound on the objective.
    runtime_s : float
    nodes : int or None
        Branch-and-bound nodes.
    """

    selected: np.ndarray
    objective: float
    cost: float
    boundary_length: float
    held: np.ndarray
    method: str
    status: str
    gap: float | None = None
    dual_bound: float | None = None
    runtime_s: float = 0.0
    nodes: int | None = None

    @property
    def n_selected(self) -> int:
        return int(self.selected.sum())

    def stats(self) -> dict[str, Any]:
        """Solver statistics as plain JSON-ready values."""
        return {
            "method": self.method,
            "status": self.status,
            "objective": self.objective,
            "cost": self.cost,
            "boundary_length": self.boundary_length,
            "gap": self.gap,
            "dual_bound": self.dual_bound,
            "runtime_s": round(self.runtime_s, 4),
            "nodes": self.nodes,
            "n_selected": self.n_selected,
        }


# --------------------------------------------------------------------------------------------
# Evaluation and feasibility
# --------------------------------------------------------------------------------------------


def evaluate(problem: Problem, selected: np.ndarray) -> float:
    """The objective value of a plan (lower is better), as the solver sees it.

    Minimum set: ``cost + penalty × boundary``. Maximum coverage: the weighted sum of relative
    shortfalls, ``+ penalty × boundary / budget``, plus a small cost term that prefers the
    cheaper of two plans with equal shortfall.
    """
    s = np.asarray(selected, dtype=bool)
    value = float(problem.cost[s].sum())
    if problem.objective == "max_coverage":
        value = _shortfall_value(problem, s) + _cost_weight(problem) * value
    if problem.boundary is not None and problem.boundary_penalty > 0:
        value += _boundary_weight(problem) * problem.boundary.length_of(s)
    return value


def _shortfall_value(problem: Problem, selected: np.ndarray) -> float:
    held = problem.amounts @ selected.astype("float64")
    t = problem.targets
    pos = t > 0
    short = np.maximum(t[pos] - held[pos], 0.0) / t[pos]
    return float((problem.feature_weights[pos] * short).sum())


def _boundary_weight(problem: Problem) -> float:
    """The boundary penalty in objective units.

    Minimum set: the penalty is a cost per unit of boundary length. Maximum coverage: the
    outline is priced in cost units too and counted against the budget, so that spending the
    whole budget on outline weighs as much as missing one whole feature.
    """
    if problem.objective == "max_coverage":
        scale = problem.budget if problem.budget else float(problem.cost.sum())
        return problem.boundary_penalty / max(scale, 1e-12)
    return problem.boundary_penalty


def _cost_weight(problem: Problem) -> float:
    return COST_TIEBREAK / max(float(problem.cost.sum()), 1e-12)


def is_feasible(problem: Problem, selected: np.ndarray) -> bool:
    """Whether a plan respects the locks, the targets (minimum set) and the budget."""
    s = np.asarray(selected, dtype=bool)
    if (problem.locked_in & ~s).any() or (problem.locked_out & s).any():
        return False
    if problem.objective == "min_set":
        held = problem.amounts @ s.astype("float64")
        return bool((held >= problem.targets * (1 - TARGET_RTOL)).all())
    budget = problem.budget if problem.budget is not None else np.inf
    return bool(problem.cost[s].sum() <= budget * (1 + 1e-9) + 1e-9)


def check_feasible(problem: Problem) -> None:
    """Raise :class:`Infeasible` if no plan can meet the problem's constraints.

    Minimum set: a feature whose target exceeds its amount outside the locked-out units can
    never be met. Maximum coverage: the locked-in units may cost more than the budget.
    """
    if problem.objective == "min_set":
        best = problem.max_achievable
        bad = np.flatnonzero(best < problem.targets * (1 - TARGET_RTOL))
        if len(bad):
            rows = [
                {
                    "feature": problem.features[k],
                    "target": float(problem.targets[k]),
                    "max_achievable": float(best[k]),
                    "total": float(problem.totals[k]),
                }
                for k in bad
            ]
            names = ", ".join(str(r["feature"]) for r in rows)
            raise Infeasible(
                f"{len(rows)} target(s) cannot be met by any plan (too little outside the "
                f"locked-out units): {names}",
                details={"features": rows},
            )
    else:
        assert problem.budget is not None
        locked = float(problem.cost[problem.locked_in].sum())
        if locked > problem.budget * (1 + 1e-9):
            raise Infeasible(
                f"the locked-in units cost {locked:.6g}, more than the budget {problem.budget:.6g}",
                details={"locked_in_cost": locked, "budget": problem.budget},
            )


def _solution(
    problem: Problem,
    selected: np.ndarray,
    *,
    method: str,
    status: str,
    gap: float | None = None,
    dual_bound: float | None = None,
    runtime_s: float = 0.0,
    nodes: int | None = None,
) -> Solution:
    s = np.asarray(selected, dtype=bool)
    blen = problem.boundary.length_of(s) if problem.boundary is not None else 0.0
    return Solution(
        selected=s,
        objective=evaluate(problem, s),
        cost=float(problem.cost[s].sum()),
        boundary_length=blen,
        held=np.asarray(problem.amounts @ s.astype("float64")).ravel(),
        method=method,
        status=status,
        gap=gap,
        dual_bound=dual_bound,
        runtime_s=runtime_s,
        nodes=nodes,
    )


# --------------------------------------------------------------------------------------------
# Exact solver (HiGHS)
# --------------------------------------------------------------------------------------------


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

"""The planning problem: units, features, targets, costs, locks and boundaries; a solution
and how to evaluate it (objective, feasibility)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

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
        t = _check_data(c, a, feats, np.asarray(targets, dtype="float64"))
        m = len(feats)
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
        _check_objective(objective, budget)
        w = np.ones(m) if feature_weights is None else np.asarray(feature_weights, "float64")
        if len(w) != m or (w < 0).any() or not np.isfinite(w).all():
            raise InvalidInput("feature weights: one non-negative number per feature")
        _check_boundary(boundary, boundary_penalty, n)
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


def _check_data(
    c: np.ndarray, a: sparse.csr_matrix, feats: tuple[str, ...], t: np.ndarray
) -> np.ndarray:
    """Check costs, amounts and targets; return the targets with unmeasurably small ones nil."""
    n, m = len(c), len(feats)
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
    return np.where(t < 1e-12 * np.maximum(totals, 1.0), 0.0, t)


def _check_objective(objective: str, budget: float | None) -> None:
    if objective not in OBJECTIVES:
        raise InvalidInput(f"objective must be one of {', '.join(OBJECTIVES)}")
    if objective == "max_coverage" and (budget is None or not np.isfinite(budget) or budget < 0):
        raise InvalidInput("maximum coverage needs a budget (a non-negative number)")


def _check_boundary(boundary: Boundary | None, penalty: float, n: int) -> None:
    if penalty < 0 or not np.isfinite(penalty):
        raise InvalidInput("the boundary penalty must not be negative")
    if boundary is not None:
        if len(boundary.perimeter) != n:
            raise InvalidInput("boundary perimeters must be given for every unit")
        if boundary.n_edges and boundary.j.max() >= n:
            raise InvalidInput("boundary edges refer to units that do not exist")
    if penalty > 0 and boundary is None:
        raise InvalidInput("a boundary penalty needs the units' boundary lengths")


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

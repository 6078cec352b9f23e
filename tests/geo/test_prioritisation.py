"""The prioritisation solver against brute force, and its invariants.

Small problems (10-12 units) are solved by enumerating every plan; HiGHS must find an optimum
of the same value, plans must respect targets and locks, infeasible targets must be named,
and the greedy baseline must never beat the exact optimum.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import Infeasible, InvalidInput
from geo.prioritisation import (
    Boundary,
    Problem,
    compare_groups,
    evaluate,
    grant_opportunities,
    is_feasible,
    rank_units,
    replacement_cost,
    selection_frequency,
    solve,
    solve_greedy,
    target_table,
)


def brute_force(problem: Problem) -> tuple[float, np.ndarray | None]:
    """The optimum by enumerating all 2**n plans (None if no plan is feasible)."""
    best, best_sel = np.inf, None
    n = problem.n_units
    for bits in itertools.product((False, True), repeat=n):
        sel = np.array(bits)
        if not is_feasible(problem, sel):
            continue
        value = evaluate(problem, sel)
        if value < best - 1e-12:
            best, best_sel = value, sel
    return best, best_sel


def grid_boundary(rows: int, cols: int) -> Boundary:
    """Unit squares on a rows × cols grid: perimeter 4, shared edges of length 1."""
    i, j = [], []
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            if c + 1 < cols:
                i.append(k)
                j.append(k + 1)
            if r + 1 < rows:
                i.append(k)
                j.append(k + cols)
    return Boundary(perimeter=np.full(rows * cols, 4.0), i=i, j=j, length=np.ones(len(i)))


def random_problem(
    seed: int,
    *,
    n: int = 11,
    m: int = 3,
    share: float = 0.3,
    objective: str = "min_set",
    blm: float = 0.0,
    locks: bool = True,
) -> Problem:
    rng = np.random.default_rng(seed)
    amounts = rng.uniform(0, 10, (m, n)) * (rng.random((m, n)) < 0.6)
    cost = rng.uniform(1, 10, n).round(2)
    lin = np.zeros(n, bool)
    lout = np.zeros(n, bool)
    if locks:
        lin[rng.choice(n, 1)] = True
        lout[rng.choice(np.flatnonzero(~lin), 2, replace=False)] = True
    free = amounts[:, ~lout].sum(axis=1)
    return Problem.from_arrays(
        cost=cost,
        amounts=amounts,
        features=[f"f{k}" for k in range(m)],
        targets=share * free,
        locked_in=lin,
        locked_out=lout,
        objective=objective,  # type: ignore[arg-type]
        budget=cost.sum() * 0.35 if objective == "max_coverage" else None,
        boundary=grid_boundary(1, n) if blm else None,
        boundary_penalty=blm,
    )


@pytest.mark.parametrize("seed", range(8))
def test_min_set_matches_brute_force(seed: int) -> None:
    problem = random_problem(seed, n=12, m=3, share=0.4)
    best, _ = brute_force(problem)
    sol = solve(problem, gap=0.0)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert is_feasible(problem, sol.selected)
    assert sol.gap == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_min_set_with_boundary_penalty_matches_brute_force(seed: int) -> None:
    problem = random_problem(seed, n=11, m=3, blm=1.5)
    best, _ = brute_force(problem)
    sol = solve(problem)
    assert sol.objective == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert sol.objective == pytest.approx(
        sol.cost + 1.5 * problem.boundary.length_of(sol.selected)  # type: ignore[union-attr]
    )


@pytest.mark.parametrize("seed", range(6))
def test_max_coverage_matches_brute_force(seed: int) -> None:
    problem = random_problem(seed, n=11, m=4, share=0.5, objective="max_coverage")
    best, _ = brute_force(problem)
    sol = solve(problem)
    assert sol.objective == pytest.approx(best, rel=1e-7, abs=1e-9)
    assert sol.cost <= problem.budget + 1e-9  # type: ignore[operator]


@pytest.mark.parametrize("seed", range(6))
def test_max_coverage_with_boundary_matches_brute_force(seed: int) -> None:
    problem = random_problem(seed, n=10, m=3, share=0.6, objective="max_coverage", blm=1.0)
    best, _ = brute_force(problem)
    assert solve(problem).objective == pytest.approx(best, rel=1e-7, abs=1e-9)


def test_greedy_is_never_better_than_exact() -> None:
    worse = 0
    for seed in range(30):
        for objective, blm in (
            ("min_set", 0.0),
            ("min_set", 1.0),
            ("max_coverage", 0.0),
            ("max_coverage", 1.0),
        ):
            problem = random_problem(seed, n=12, objective=objective, blm=blm)
            exact, greedy = solve(problem), solve_greedy(problem)
            assert is_feasible(problem, greedy.selected)
            assert exact.objective <= greedy.objective + 1e-9
            worse += greedy.objective > exact.objective + 1e-9
    assert worse > 0  # the baseline is a real heuristic: sometimes it is beaten


def test_boundary_penalty_makes_the_plan_compact() -> None:
    # a 3 × 4 grid; the feature lies in two far corners (cheap) or two adjacent
    # middle units (dearer); the target needs two units' worth
    amounts = np.zeros((1, 12))
    amounts[0, [0, 11]] = 1.0  # opposite corners, cost 1 each
    amounts[0, [5, 6]] = 1.0  # neighbours, cost 1.5 each
    cost = np.full(12, 10.0)
    cost[[0, 11]] = 1.0
    cost[[5, 6]] = 1.5
    boundary = grid_boundary(3, 4)
    base = {
        "cost": cost,
        "amounts": amounts,
        "features": ["f"],
        "targets": [2.0],
        "boundary": boundary,
    }
    loose = solve(Problem.from_arrays(**base))
    compact = solve(Problem.from_arrays(**base, boundary_penalty=0.5))
    assert np.flatnonzero(loose.selected).tolist() == [0, 11]
    assert np.flatnonzero(compact.selected).tolist() == [5, 6]
    assert compact.boundary_length < loose.boundary_length
    assert boundary.length_of(compact.selected) == pytest.approx(6.0)
    # the same with a budget: the outline is priced like spending
    budgeted = {**base, "objective": "max_coverage", "budget": 3.0}
    assert np.flatnonzero(solve(Problem.from_arrays(**budgeted)).selected).tolist() == [0, 11]
    compact_budget = solve(Problem.from_arrays(**budgeted, boundary_penalty=0.2))
    assert np.flatnonzero(compact_budget.selected).tolist() == [5, 6]


def test_locks_are_respected() -> None:
    amounts = np.array([[5.0, 1.0, 1.0, 1.0]])
    problem = Problem.from_arrays(
        cost=[1.0, 1.0, 1.0, 1.0],
        amounts=amounts,
        features=["f"],
        targets=[2.0],
        locked_in=[False, False, False, True],
        locked_out=[True, False, False, False],
    )
    sol = solve(problem)
    assert not sol.selected[0] and sol.selected[3]
    assert sol.selected.tolist() == [False, True, False, True] or sol.selected.tolist() == [
        False,
        False,
        True,
        True,
    ]


def test_infeasible_targets_name_the_features() -> None:
    problem = Problem.from_arrays(
        cost=[1.0, 1.0, 1.0],
        amounts=[[4.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 3.0]],
        features=["leopard|mountain", "gazelle|arid_lowland", "gazelle|mountain"],
        targets=[2.0, 1.0, 1.0],
        locked_out=[True, False, True],
    )
    for solver in (solve, solve_greedy):
        with pytest.raises(Infeasible) as err:
            solver(problem)
        rows = err.value.details["features"]  # type: ignore[index]
        assert [r["feature"] for r in rows] == ["leopard|mountain", "gazelle|mountain"]
        assert rows[0]["max_achievable"] == pytest.approx(1.0)
        assert "leopard|mountain" in err.value.message


def test_locked_in_beyond_budget_is_infeasible() -> None:
    problem = Problem.from_arrays(
        cost=[5.0, 1.0],
        amounts=[[1.0, 1.0]],
        features=["f"],
        targets=[1.0],
        locked_in=[True, False],
        objective="max_coverage",
        budget=2.0,
    )
    with pytest.raises(Infeasible):
        solve(problem)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cost": [-1.0], "amounts": [[1.0]], "features": ["f"], "targets": [1.0]},
        {"cost": [1.0], "amounts": [[np.nan]], "features": ["f"], "targets": [1.0]},
        {"cost": [1.0, 1.0], "amounts": [[1.0]], "features": ["f"], "targets": [1.0]},
        {
            "cost": [1.0],
            "amounts": [[1.0]],
            "features": ["f"],
            "targets": [1.0],
            "locked_in": [True],
            "locked_out": [True],
        },
        {
            "cost": [1.0],
            "amounts": [[1.0]],
            "features": ["f"],
            "targets": [1.0],
            "objective": "max_coverage",
        },
        {
            "cost": [1.0],
            "amounts": [[1.0]],
            "features": ["f"],
            "targets": [1.0],
            "boundary_penalty": 1.0,
        },
    ],
)
def test_bad_input_is_refused(kwargs: dict) -> None:
    with pytest.raises(InvalidInput):
        Problem.from_arrays(**kwargs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 30),
    m=st.integers(1, 5),
    share=st.floats(0.0, 1.0),
    blm=st.sampled_from([0.0, 0.3]),
    objective=st.sampled_from(["min_set", "max_coverage"]),
)
def test_plans_respect_targets_locks_and_budget(
    seed: int, n: int, m: int, share: float, blm: float, objective: str
) -> None:
    rng = np.random.default_rng(seed)
    amounts = rng.uniform(0, 5, (m, n)) * (rng.random((m, n)) < 0.5)
    cost = rng.uniform(0, 5, n)
    lin = rng.random(n) < 0.15
    lout = ~lin & (rng.random(n) < 0.2)
    problem = Problem.from_arrays(
        cost=cost,
        amounts=amounts,
        features=[f"f{k}" for k in range(m)],
        targets=share * amounts.sum(axis=1),
        locked_in=lin,
        locked_out=lout,
        objective=objective,  # type: ignore[arg-type]
        budget=cost[lin].sum() + cost.sum() * share if objective == "max_coverage" else None,
        boundary=grid_boundary(1, n),
        boundary_penalty=blm,
    )
    # problem.targets: as asked, but nil where too small to measure (below 1e-12 of the total)
    reachable = amounts[:, ~lout].sum(axis=1) >= problem.targets * (1 - 1e-6)
    if objective == "min_set" and not reachable.all():
        with pytest.raises(Infeasible) as err:
            solve(problem)
        named = {r["feature"] for r in err.value.details["features"]}  # type: ignore[index]
        assert named == {f"f{k}" for k in np.flatnonzero(~reachable)}
        return
    exact, greedy = solve(problem), solve_greedy(problem)
    assert exact.objective <= greedy.objective + 1e-9 * max(1.0, abs(greedy.objective))
    for sol in (exact, greedy):
        assert is_feasible(problem, sol.selected)
        assert sol.selected[lin].all() and not sol.selected[lout].any()
        if objective == "min_set":
            assert target_table(problem, sol)["met"].all()
        else:
            assert sol.cost <= problem.budget + 1e-9  # type: ignore[operator]


def test_outputs_rank_compare_and_grants() -> None:
    problem = random_problem(3, n=12, m=4, share=0.4, locks=False)
    sol = solve(problem)
    freq = selection_frequency(problem, runs=5, seed=1)
    assert freq.shape == (12,) and ((freq >= 0) & (freq <= 1)).all()
    ranks = rank_units(problem, sol, freq)
    assert sorted(ranks["rank"]) == list(range(1, 13))
    top = ranks.sort_values("rank").head(int(sol.selected.sum()))
    assert top["frequency"].min() >= ranks["frequency"].max() - 1.0  # sorted by frequency
    assert (ranks.sort_values("rank")["frequency"].diff().dropna() <= 1e-12).all()

    groups = {"f0": "mountain", "f1": "mountain", "f2": "arid_lowland", "f3": "arid_lowland"}
    cmp = compare_groups(problem, sol, groups)
    assert set(cmp["group"]) == {"mountain", "arid_lowland"}
    assert cmp["met"].sum() == 4

    current = np.zeros(12, bool)
    current[0] = True
    covered = current.copy()
    opp = grant_opportunities(problem, current, covered, solution=sol, top=None)
    assert 0 not in set(opp["unit_id"])
    assert (opp["contribution"].diff().dropna() <= 1e-12).all()
    # the best candidate closes at least as much shortfall as any other unit
    table = target_table(problem, sol)
    assert len(table) == 4


def test_docstring_examples_run() -> None:
    import doctest

    import geo.planning_units
    import geo.prioritisation

    for module in (geo.prioritisation, geo.planning_units):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


@pytest.mark.parametrize("seed", range(4))
def test_replacement_cost_matches_brute_force(seed: int) -> None:
    problem = random_problem(seed, n=10, m=3, share=0.5)
    sol = solve(problem)
    cost = replacement_cost(problem, sol)
    for k in range(problem.n_units):
        if not sol.selected[k] or problem.locked_in[k]:
            assert np.isnan(cost[k])
            continue
        lout = problem.locked_out.copy()
        lout[k] = True
        best, _ = brute_force(
            Problem.from_arrays(
                cost=problem.cost,
                amounts=problem.amounts,
                features=problem.features,
                targets=problem.targets,
                locked_in=problem.locked_in,
                locked_out=lout,
            )
        )
        expected = np.inf if not np.isfinite(best) else best - sol.objective
        assert cost[k] == pytest.approx(expected, rel=1e-9, abs=1e-9)

"""Benchmark: the exact prioritisation solver (HiGHS) against the greedy baseline.

A synthetic landscape of 100 × 100 = 10,000 square planning units and 10 features (smooth
random habitat fields, each present on 15–50 % of the units), costs spatially correlated
(log-normal). Problems:

1. minimum set, 30 % of every feature, gap 1 %, time limit 60 s;
2. the same with a boundary penalty (compactness), 4-neighbour edges (time limit 30 s);
3. maximum coverage with a budget of 10 % of the total cost;
4. (``--demo``, the default) the demo data: H3 resolution 5 over the four countries (about
   12,300 units), modelled habitat of both species per ecosystem and country, 30 % targets.

Each is solved exactly (the reported gap comes from HiGHS' dual bound) and greedily; costs and
objectives are compared. Prints a markdown table and writes JSON with ``--out``.

Run: ``.venv/bin/python bench/bench_prioritise.py [--side 100] [--features 10] [--out f.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import highspy
import numpy as np
from scipy.ndimage import gaussian_filter

from geo.prioritisation import Boundary, Problem, is_feasible, solve, solve_greedy


def landscape(side: int, n_features: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Feature amounts (features × units) and costs on a ``side × side`` grid."""
    rng = np.random.default_rng(seed)
    amounts = np.zeros((n_features, side * side))
    for f in range(n_features):
        field = gaussian_filter(rng.normal(size=(side, side)), sigma=rng.uniform(3, 10))
        present = field > np.quantile(field, rng.uniform(0.5, 0.85))
        amounts[f] = np.where(present, field - field.min(), 0.0).ravel()
    cost_field = gaussian_filter(rng.normal(size=(side, side)), sigma=5)
    cost = np.exp(cost_field / cost_field.std() * 0.5 + rng.normal(0, 0.2, (side, side)))
    return amounts, cost.ravel()


def grid_boundary(side: int) -> Boundary:
    idx = np.arange(side * side).reshape(side, side)
    i = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    j = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return Boundary(perimeter=np.full(side * side, 4.0), i=i, j=j, length=np.ones(len(i)))


def demo_problem(resolution: int = 5) -> tuple[Problem, float]:
    """The demo data on an H3 grid: modelled habitat of both species per ecosystem and country,
    cost = area raised near towns; returns the problem and the seconds taken to build it."""
    import pandas as pd

    import geopandas as gpd

    from geo import ecosystems, habitat
    from geo import planning_units as pu

    data = Path(__file__).resolve().parents[1] / "data"
    t = time.perf_counter()
    area = gpd.read_file(data / "boundaries" / "ne10m_admin0_kz_kg_tj_uz_simplified.geojson")
    regions = gpd.read_file(data / "natural_earth" / "ne10m_geography_regions_central_asia.gpkg")
    places = gpd.read_file(data / "natural_earth" / "ne10m_populated_places_central_asia.gpkg")
    grid = ecosystems.classify_region(
        area, data / "elevation" / "mapzen_pvlib_central_asia_5arcmin.tif", resolution_deg=1 / 12
    )
    parts = []
    for species in ("Panthera uncia", "Gazella subgutturosa"):
        params = habitat.default_params(species)
        rng = habitat.default_range(params, area, regions)
        parts.append(habitat.model_habitat(grid, params, rng, regions=regions))
    hab = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326)
    units = pu.unit_values(
        pu.hex_grid(area, resolution), habitat=hab, places=places, by_country=True
    )
    units["cost"] = pu.unit_costs(units, pu.CostModel(town_weight=1.0))
    cols = [c for c in pu.feature_columns(units) if units[c].sum() >= 10.0]
    problem = Problem.from_units(units, cols, targets=0.3, id_column="h3")
    return problem, time.perf_counter() - t


def run(problem: Problem, *, gap: float, time_limit: float) -> dict[str, object]:
    t = time.perf_counter()
    exact = solve(problem, gap=gap, time_limit=time_limit)
    exact_s = time.perf_counter() - t
    t = time.perf_counter()
    greedy = solve_greedy(problem)
    greedy_s = time.perf_counter() - t
    assert is_feasible(problem, exact.selected) and is_feasible(problem, greedy.selected)
    return {
        "units": problem.n_units,
        "features": problem.n_features,
        "exact_s": round(exact_s, 2),
        "exact_status": exact.status,
        "exact_gap": exact.gap,
        "exact_objective": exact.objective,
        "exact_cost": exact.cost,
        "exact_selected": exact.n_selected,
        "nodes": exact.nodes,
        "greedy_s": round(greedy_s, 2),
        "greedy_objective": greedy.objective,
        "greedy_cost": greedy.cost,
        "greedy_selected": greedy.n_selected,
        "greedy_excess": greedy.objective / exact.objective - 1.0,
        "dual_bound": exact.dual_bound,
        # proven: the greedy plan is at least this far above the optimum's lower bound
        "greedy_above_bound": (
            greedy.objective / exact.dual_bound - 1.0 if exact.dual_bound else float("nan")
        ),
        "boundary_exact": exact.boundary_length,
        "boundary_greedy": greedy.boundary_length,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=100, help="grid side (units = side²)")
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--gap", type=float, default=0.01)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also plan on the demo data (H3 grid over the four countries)",
    )
    ap.add_argument("--demo-resolution", type=int, default=5)
    args = ap.parse_args()

    amounts, cost = landscape(args.side, args.features)
    names = [f"f{k}" for k in range(args.features)]
    targets = 0.3 * amounts.sum(axis=1)
    boundary = grid_boundary(args.side)
    blm = float(np.median(cost)) / 4  # a shared edge is worth a quarter of a typical unit
    problems = {
        "min set, 30 % targets": Problem.from_arrays(
            cost=cost, amounts=amounts, features=names, targets=targets
        ),
        "min set + boundary penalty": Problem.from_arrays(
            cost=cost,
            amounts=amounts,
            features=names,
            targets=targets,
            boundary=boundary,
            boundary_penalty=blm,
        ),
        "max coverage, budget 10 %": Problem.from_arrays(
            cost=cost,
            amounts=amounts,
            features=names,
            targets=targets,
            objective="max_coverage",
            budget=0.1 * cost.sum(),
        ),
    }
    if args.demo:
        problem, build_s = demo_problem(args.demo_resolution)
        name = f"demo data, H3 r{args.demo_resolution}, min set 30 %"
        problems[name] = problem
        print(f"demo grid built in {build_s:.1f} s")
    results = {}
    for name, problem in problems.items():
        # the boundary penalty makes the problem much harder: it gets a shorter leash so the
        # whole benchmark stays under two minutes; its gap says how far it got
        limit = min(args.time_limit, 30.0) if "boundary" in name else args.time_limit
        results[name] = run(problem, gap=args.gap, time_limit=limit)
    print(
        f"gap {args.gap:.0%}, time limit {args.time_limit:.0f} s "
        f"(boundary case {min(args.time_limit, 30.0):.0f} s); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"Python {platform.python_version()}, HiGHS {highspy.Highs().version()} (highspy)"
    )
    print()
    print(
        "| problem | units × features | exact s | status | gap (HiGHS) | exact cost | "
        "greedy s | greedy cost | greedy vs exact | greedy vs bound |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['units']:,} × {r['features']} | {r['exact_s']:.1f} | "
            f"{r['exact_status']} | {r['exact_gap']:.2%} | {r['exact_cost']:,.6g} | "
            f"{r['greedy_s']:.1f} | {r['greedy_cost']:,.6g} | {r['greedy_excess']:+.1%} | "
            f"{r['greedy_above_bound']:+.1%} |"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()

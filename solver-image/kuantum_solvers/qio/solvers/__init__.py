"""QIO solver drivers: each module exposes `solve(problem, params, ctx) -> SolveResult`."""

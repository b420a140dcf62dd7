"""Hand a Pyomo model to HiGHS as matrices, and keep it for re-solves that only change data.

Pyomo's ``LinearStandardFormCompiler`` turns the model into a sparse matrix with a row per
constraint and a column per variable; :class:`CompiledLP` passes that to ``highspy`` in one call
and remembers which rows and columns belong to which Pyomo component (callers name them by the
component objects the model families' handles hold, never by string), so that a rolling-horizon
re-solve changes bounds, right-hand sides, costs and coefficients in place and HiGHS warm-starts
from its last basis. (``benchmarks/optimizer.py`` measures this against Pyomo's persistent
``appsi_highs`` and ``highs`` interfaces; see the README.)

The model keeps every quantity in its own unit (MWh, GPU-s, tokens). Where those span too many
orders of magnitude for the solver (a campus has 1e8 GPU-seconds a slice and a training run 1e13
tokens, against MWh of order 1-100), a :class:`Scaling` rescales columns and rows in the hand-over
only: HiGHS sees ``x' = x / s_col`` and rows divided by ``s_row``; bounds, costs, coefficients
and solutions pass through the same factors, so nothing outside this module changes unit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

INF = highspy.kHighsInf


class SolveError(RuntimeError):
    """HiGHS did not return an optimal solution; the message says what it returned."""


#: HiGHS's LP methods this project uses: dual simplex (a basis, warm starts for re-solves that
#: change data: MPC and the oracle's fixed point), HiGHS's interior-point solver HiPO (the
#: ``highspy-extras`` package; large one-off LPs: sizing) and its older interior-point solver
#: IPX (where HiPO cannot load). ``benchmarks/sizing.py`` and ``benchmarks/optimizer.py``
#: measure them.
METHODS = ("simplex", "hipo", "ipx")


#: How an interior-point solve ends without an answer: numerical failure, or stopped at a point
#: that meets neither optimality nor a proof of infeasibility (HiPO 1.15 on some small LPs).
IPM_FAILURES = (highspy.HighsModelStatus.kSolveError, highspy.HighsModelStatus.kUnknown)


#: The thread count of the HiGHS scheduler this Python thread started last (HiGHS keeps one
#: scheduler per thread that calls ``run``, started with the first solve's ``threads``).
_scheduler = threading.local()


def use_threads(threads: int) -> None:
    """Make HiGHS's scheduler of this thread run ``threads`` threads before a solve.

    HiGHS starts its task scheduler once, with the first solve's ``threads``, and refuses a
    later solve that asks for another count (its model status stays "Not Set"): ``size
    --threads 2`` then failed at the oracle's single-thread recheck. The scheduler is reset
    (``Highs.resetGlobalScheduler``) when the count changes.
    """
    last = getattr(_scheduler, "threads", None)
    if last is not None and last != threads:
        highspy.Highs.resetGlobalScheduler(True)
    _scheduler.threads = threads


def hipo_available() -> bool:
    """Whether HiPO can load: the ``highspy-extras`` package of ``highspy``'s version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("highspy-extras") == version("highspy")
    except PackageNotFoundError:
        return False


@dataclass(frozen=True)
class SolverSettings:
    """How HiGHS solves an LP.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`. ``hipo`` falls back to ``ipx`` where HiPO cannot load
        (:func:`hipo_available`); :attr:`CompiledLP.method` says which ran.
    threads : int
        HiGHS threads (1 by default: on this 2-core machine two threads did not speed HiPO up
        on the hourly sizing LP, 67.2 and 68.9 s against 60.7-70.8 s on one). Solves in one
        process may ask for different counts (:func:`use_threads`).
    crossover : bool
        After an interior-point solve, find a basis (only needed to warm-start a re-solve).
    time_limit_s : float, optional
        Seconds HiGHS may take per solve [s]; None: no limit.
    """

    method: str = "simplex"
    threads: int = 1
    crossover: bool = False
    time_limit_s: float | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"solver method = {self.method!r}: must be one of {METHODS}")
        if self.threads < 1:
            raise ValueError(f"solver threads = {self.threads}: must be at least 1")
        if self.time_limit_s is not None and not self.time_limit_s >= 0.0:
            raise ValueError(f"solver time limit = {self.time_limit_s} s: must be >= 0")

    def resolved_method(self) -> str:
        """The method that will run: ``hipo`` only where it can load, else ``ipx``."""
        return "ipx" if self.method == "hipo" and not hipo_available() else self.method

    def apply(self, h: highspy.Highs) -> str:
        """Set these options on ``h``; return the method that will run."""
        method = self.resolved_method()
        h.setOptionValue("threads", self.threads)
        h.setOptionValue("solver", method)
        if method != "simplex":
            h.setOptionValue("run_crossover", "on" if self.crossover else "off")
        if method == "hipo":  # the normal equations of a year's LP are dense (capacities
            # touch every slice): HiPO's analysis of them is wasted time
            h.setOptionValue("hipo_system", "augmented")
        if self.time_limit_s is not None:
            h.setOptionValue("time_limit", float(self.time_limit_s))
        return method


def _index_key(index):
    return index if index is not None else 0


@dataclass(frozen=True)
class Scaling:
    """Unit sizes in the hand-over to HiGHS: a column of a component in ``columns`` is passed
    in units of its factor (``x' = x / factor``), a row of a constraint in ``rows`` divided by
    its factor. Components not named keep factor 1."""

    columns: ComponentMap = field(default_factory=ComponentMap)
    rows: ComponentMap = field(default_factory=ComponentMap)


def _diag(values: np.ndarray):
    from scipy.sparse import diags

    return diags(values, format="csc")


class CompiledLP:
    """A Pyomo LP compiled once into a persistent ``highspy.Highs`` model.

    Attributes
    ----------
    cols : dict of pyomo Var to dict
        Component -> {Pyomo index: column}.
    rows : dict of pyomo Constraint to dict
        Constraint -> {Pyomo index: row} (a ranged constraint keeps its first row).
    compile_s, pass_s : float
        Seconds spent compiling the Pyomo model to matrices and passing them to HiGHS.
    method : str
        The LP method that runs (:meth:`SolverSettings.resolved_method`).
    solved_by : str
        The method that gave the last solution (``simplex`` after a fallback).
    """

    def __init__(self, model: pyo.ConcreteModel, solver: SolverSettings | None = None,
                 scaling: Scaling | None = None):
        t0 = time.perf_counter()
        info = LinearStandardFormCompiler().write(model, mixed_form=True)
        t1 = time.perf_counter()
        self.compile_s = t1 - t0
        ncol, nrow = len(info.columns), len(info.rows)
        lower = np.empty(ncol)
        upper = np.empty(ncol)
        self.cols = ComponentMap()  # keyed by the component object, as the handles hold it
        scaling = scaling or Scaling()
        self.col_scale = np.ones(ncol)
        for k, v in enumerate(info.columns):
            lb, ub = v.bounds
            lower[k] = -INF if lb is None else lb
            upper[k] = INF if ub is None else ub
            parent = v.parent_component()
            if parent not in self.cols:
                self.cols[parent] = {}
            self.cols[parent][_index_key(v.index())] = k
            self.col_scale[k] = scaling.columns.get(parent, 1.0)
        rhs = np.asarray(info.rhs, dtype=float)
        row_lo = np.full(nrow, -INF)
        row_hi = np.full(nrow, INF)
        ops = np.array([op for _, op in info.rows])
        row_lo[ops <= 0] = rhs[ops <= 0]
        row_hi[ops >= 0] = rhs[ops >= 0]
        self.rows = ComponentMap()
        self.row_scale = np.ones(nrow)
        for k, (con, _) in enumerate(info.rows):
            parent = con.parent_component()
            if parent not in self.rows:
                self.rows[parent] = {}
            self.rows[parent].setdefault(_index_key(con.index()), k)
            self.row_scale[k] = scaling.rows.get(parent, 1.0)
        a = info.A.tocsc()
        self.A = a  # in the model's units
        cost = np.asarray(info.c.toarray()).ravel() if info.c.shape[0] else np.zeros(ncol)
        # the hand-over: x' = x / s_col, rows / s_row
        cs, rs = self.col_scale, self.row_scale
        if scaling.columns or scaling.rows:
            a = (_diag(1.0 / rs) @ a @ _diag(cs)).tocsc()
            lower, upper, cost = lower / cs, upper / cs, cost * cs
            row_lo, row_hi = row_lo / rs, row_hi / rs
        self.offset = float(info.c_offset[0]) if len(info.c_offset) else 0.0
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = ncol, nrow
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
        lp.row_lower_, lp.row_upper_ = row_lo, row_hi
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        settings = solver or SolverSettings()
        self.method = settings.apply(self.h)
        self.threads = settings.threads
        self.h.passModel(lp)
        self.pass_s = time.perf_counter() - t1
        self.solve_s = 0.0
        self.iterations = 0  # simplex iterations, all solves
        self.ipm_iterations = 0  # interior-point iterations, all solves
        self.cold_restarts = 0  # warm simplex solves repeated from scratch
        self.fallbacks = 0  # interior-point solves that failed and were solved by simplex
        self.solved_by = self.method  # the method that gave the last solution
        self._value_index: dict = {}

    def col(self, var, index=None) -> int:
        """The column of ``var[index]`` (a scalar variable: no index)."""
        return self.cols[var][_index_key(index)]

    def col_array(self, var, indices) -> np.ndarray:
        c = self.cols[var]
        return np.fromiter((c[i] for i in indices), dtype=np.int32)

    def row(self, con, index=None) -> int:
        """The row of ``con[index]`` (a scalar constraint: no index)."""
        return self.rows[con][_index_key(index)]

    def row_array(self, con, indices) -> np.ndarray:
        r = self.rows[con]
        return np.fromiter((r[i] for i in indices), dtype=np.int32)

    def shift_map(self, step: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """For a rolling horizon of ``n`` slices moved on by ``step``: the column and row whose
        basis status each column and row takes (the same component ``step`` slices later; the
        last ``step`` slices and everything not indexed by slice keep their own)."""

        def mapping(table: dict, size: int) -> np.ndarray:
            src = np.arange(size)
            for entries in table.values():
                for idx, k in entries.items():
                    t = idx[-1] if isinstance(idx, tuple) else idx
                    if not isinstance(t, int) or t + step >= n:
                        continue
                    later = (*idx[:-1], t + step) if isinstance(idx, tuple) else t + step
                    if later in entries:
                        src[k] = entries[later]
            return src

        return (mapping(self.cols, self.h.getNumCol()), mapping(self.rows, self.h.getNumRow()))

    def shift_basis(self, col_src: np.ndarray, row_src: np.ndarray) -> None:
        """Start the next solve from the last basis moved along the horizon (HiGHS repairs
        the count of basic variables where the move broke it)."""
        old = self.h.getBasis()
        if not old.valid:
            return
        new = highspy.HighsBasis()
        cs, rs = list(old.col_status), list(old.row_status)
        new.col_status = [cs[i] for i in col_src]
        new.row_status = [rs[i] for i in row_src]
        new.alien = True
        self.h.setBasis(new)

    def set_col_bounds(self, cols: np.ndarray, lower, upper) -> None:
        cols = np.asarray(cols, dtype=np.int32)
        scale = self.col_scale[cols]
        lo = np.broadcast_to(np.asarray(lower, dtype=float), cols.shape) / scale
        hi = np.broadcast_to(np.asarray(upper, dtype=float), cols.shape) / scale
        self.h.changeColsBounds(len(cols), cols, lo, hi)

    def set_row_bounds(self, rows: np.ndarray, lower, upper) -> None:
        rows = np.asarray(rows, dtype=np.int32)
        scale = self.row_scale[rows]
        lo = np.broadcast_to(np.asarray(lower, dtype=float), rows.shape) / scale
        hi = np.broadcast_to(np.asarray(upper, dtype=float), rows.shape) / scale
        self.h.changeRowsBounds(len(rows), rows, lo, hi)

    def set_costs(self, cols: np.ndarray, costs) -> None:
        cols = np.asarray(cols, dtype=np.int32)
        c = np.broadcast_to(np.asarray(costs, dtype=float), cols.shape) * self.col_scale[cols]
        self.h.changeColsCost(len(cols), cols, c)

    def orientation(self, rows: np.ndarray, cols: np.ndarray, built) -> np.ndarray:
        """+1 or -1 per (row, col): how a coefficient written as ``built`` in the model's
        constraint stands in the matrix (Pyomo moves terms across the relation). A new value
        ``v`` of that coefficient goes in as ``orientation * v``."""
        got = np.asarray(self.A[np.asarray(rows), np.asarray(cols)]).ravel()
        return np.sign(got / np.asarray(built, dtype=float))

    def set_coeffs(self, rows: np.ndarray, cols: np.ndarray, values) -> None:
        """Change matrix entries (row, col) one by one (HiGHS has no batch call for this)."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        values = np.broadcast_to(np.asarray(values, dtype=float), rows.shape)
        values = values * self.col_scale[cols] / self.row_scale[rows]
        for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True):
            self.h.changeCoeff(r, c, v)

    def solve(self) -> np.ndarray:
        """Solve (simplex: warm from the last basis when there is one); return the column
        values.

        A warm simplex start can stall on a badly scaled basis; then, and only then, the LP is
        solved once more from scratch, counted in :attr:`cold_restarts`. An interior-point
        solve that ends without an answer (:data:`IPM_FAILURES`: HiPO, and HiGHS's own IPX
        fallback, stopped short of the tolerances) is solved once more by dual simplex,
        counted in :attr:`fallbacks` and named by :attr:`solved_by`. Any other solve that is
        not optimal (infeasible, unbounded, a time limit) raises :class:`SolveError` at once:
        solving it again would only double its time.
        """
        t0 = time.perf_counter()
        warm = self.method == "simplex" and self.h.getBasis().valid
        use_threads(self.threads)
        self.h.run()
        status = self.h.getModelStatus()
        self.solved_by = self.method
        limits = (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit)
        if warm and status != highspy.HighsModelStatus.kOptimal and status not in limits:
            status = self._from_scratch("simplex")
            self.cold_restarts += 1
        elif self.method != "simplex" and status in IPM_FAILURES:
            status = self._from_scratch("simplex")
            self.fallbacks += 1
        self.solve_s += time.perf_counter() - t0
        info = self.h.getInfo()
        self.iterations += max(int(info.simplex_iteration_count), 0)
        self.ipm_iterations += max(int(info.ipm_iteration_count), 0)
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolveError(f"HiGHS ({self.solved_by}) returned "
                             f"{self.h.modelStatusToString(status)}")
        return self.solution()

    def _from_scratch(self, method: str):
        """Solve once more from scratch by ``method``; the next solve uses :attr:`method`
        again. Returns the model status."""
        self.h.setOptionValue("solver", method)
        self.h.clearSolver()
        self.h.run()
        self.h.setOptionValue("solver", self.method)
        self.solved_by = method
        return self.h.getModelStatus()

    def solution(self) -> np.ndarray:
        """The last solution's column values, in the model's units."""
        return np.asarray(self.h.getSolution().col_value) * self.col_scale

    @property
    def objective(self) -> float:
        return float(self.h.getInfo().objective_function_value) + self.offset

    def values(self, x: np.ndarray, var, indices) -> np.ndarray:
        """Values of a component's columns in ``indices`` order (0 for a column Pyomo dropped
        because no constraint or objective used it)."""
        key = (id(var), tuple(indices) if not isinstance(indices, range) else indices)
        cached = self._value_index.get(key)
        if cached is None:
            c = self.cols.get(var, {})
            cols = np.array([c.get(i, -1) for i in indices], dtype=np.int64)
            cached = self._value_index[key] = (cols, cols >= 0)
        cols, present = cached
        return np.where(present, x[np.where(present, cols, 0)], 0.0)

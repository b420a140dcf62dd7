"""aidc-twin: the engine, the scenario schema, strategies, results and the command line.

- :mod:`twin.scenario` validates a scenario; :mod:`twin.inputs` computes each site's per-slice
  inputs with the models of :mod:`models`;
- :mod:`twin.engine` simulates sites as SimPy components (one environment for all of them),
  dispatched by a :class:`twin.dispatch.Strategy`;
- :mod:`twin.optimize` is the Pyomo model family (typed handles per family) that the ``oracle``
  and ``mpc`` strategies and sizing solve with HiGHS;
- :mod:`twin.run` ties a run together: inputs, simulation, power flows, invariants
  (:mod:`twin.invariants`), gti_core's scores and the summary; :mod:`twin.results` writes it;
- the commands (:mod:`twin.cli`) add sizing, policy, sweeps, benchmarks, reports and verify.
"""

__version__ = "0.1.0"

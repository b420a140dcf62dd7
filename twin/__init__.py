"""aidc-twin: the engine, the scenario schema, strategies, results and the command line."""

__version__ = "0.1.0"

"""Pure physics and workload models: functions of arrays, no SimPy, no file I/O beyond weather."""

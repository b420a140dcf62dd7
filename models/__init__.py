"""Pure physics and workload models: functions of arrays, no SimPy, no file I/O beyond weather.

:mod:`models.site` is the site's physics once (IT energy from work, the GPU pool, facility
energy, the bus); weather, pv, wind, network and grid give supply and grid signals; battery,
datacenter, tokens and workloads give the components the site is made of.
"""

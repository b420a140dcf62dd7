"""The dispatch optimizer: one Pyomo model family solved by HiGHS (see model.py)."""

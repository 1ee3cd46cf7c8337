"""Demo and test tools: the loopback simulator (may use POGEMA) and its animation writer.

Nothing on a robot imports this package; the planner node never does.
"""

"""The simulation engine: compile a ProcessConfig into plain objects, run them on SimPy."""

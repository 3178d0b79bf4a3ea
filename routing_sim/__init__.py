"""routing-sim: discrete-event simulation of case-routing processes on SimPy."""

__version__ = "0.1.0"

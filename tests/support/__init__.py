"""Helpers shared by the tests (and the benchmarks): an app server, a Ray head, browser steps, crafted files.

Test modules import from here, never from one another or from benchmarks/.
"""

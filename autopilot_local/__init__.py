"""Local harness: runs the autopilot as AWS would, against an emulator (moto).

Shared by `make demo` and the tests: the template's rules decide which handler gets which event,
and the handlers are the template's own, with the environment the template gives them.
"""

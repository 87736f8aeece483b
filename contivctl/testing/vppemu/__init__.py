"""A protocol-faithful emulator of VPP's binary API, for tests.

Test infrastructure only: product code never imports it.
"""

from .emulator import Emulator, EmulatorError, running_emulator
from .errors import Retval, VppApiError
from .faults import Action, Fault, Faults

__all__ = [
    "Action",
    "Emulator",
    "EmulatorError",
    "Fault",
    "Faults",
    "Retval",
    "VppApiError",
    "running_emulator",
]

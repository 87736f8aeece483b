"""contivctl: a Kubernetes CNI agent that wires pods to the FD.io VPP vswitch."""

__version__ = "0.1.0"

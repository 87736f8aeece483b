"""The STN protocol (``proto/stn.proto``): its generated code, its values and the agent's client of it.

The daemon that serves it is ``contivctl.stnd`` (``contivctl stn``); this
package is what both sides share and what the agent needs to ask it.
"""

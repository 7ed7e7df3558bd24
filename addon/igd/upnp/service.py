"""The base of the gateway's UPnP services, over async-upnp-client's `UpnpServerService`.

The library declares a service from `@callable_action` methods, but collects them by walking
`dir()`, so the SCPD would list actions alphabetically; the standard's SCPDs (and responses) follow
the order of each service's action table, so every service names that order in `ACTION_ORDER`.
The decorated methods are the action handlers themselves: our SOAP layer (soap.py) calls them with
the typed in-arguments as keyword arguments plus `caller`, the control point's identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from async_upnp_client.client import UpnpRequester
from async_upnp_client.server import UpnpServerService

# An out-argument or state variable value before it is written as text: booleans become 1/0
# (WANIPConnection:2 4.2: yes/no MUST NOT be sent), numbers decimal.
ArgumentValue = str | int | bool
ActionResult = dict[str, ArgumentValue]


def format_value(value: ArgumentValue) -> str:
    """The UPnP text form of a value (4.2 Data types)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class GatewayService(UpnpServerService):
    """One of our services: actions in the standard's order, evented values from the core."""

    # Action names in the order of the service's action table, for the SCPD and for dispatch.
    ACTION_ORDER: ClassVar[tuple[str, ...]]
    # Per action, in-arguments a real client may leave out and the value assumed then
    # (WANIPConnection:2 5.6.0b step 1); every other missing in-argument is 402 Invalid Args.
    LENIENT_DEFAULTS: ClassVar[Mapping[str, Mapping[str, str]]] = {}

    def __init__(self, requester: UpnpRequester) -> None:
        super().__init__(requester)
        declared = set(self.actions)
        if declared != set(self.ACTION_ORDER):
            raise TypeError(
                f"{type(self).__name__}: ACTION_ORDER {sorted(self.ACTION_ORDER)} "
                f"differs from the declared actions {sorted(declared)}"
            )
        self.actions = {name: self.actions[name] for name in self.ACTION_ORDER}

    def event_properties(self) -> list[tuple[str, str]]:
        """Every evented state variable with its current text value, in SCPD order.

        This is what a GENA NOTIFY carries (the initial event and each change) and what
        QueryStateVariable answers.
        """
        values = self.evented_values()
        return [
            (name, format_value(values[name]))
            for name, variable in self.state_variables.items()
            if variable.send_events
        ]

    def evented_values(self) -> Mapping[str, ArgumentValue]:
        """Current value of each evented state variable, read from the core."""
        raise NotImplementedError

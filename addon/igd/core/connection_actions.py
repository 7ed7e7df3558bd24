"""The connection-changing actions: who may call them and which error each state gives.

WANIPConnection:2 SetConnectionType, RequestConnection, RequestTermination, ForceTermination and
the three disconnect-time setters (5.6.1, 5.6.3-5.6.8), and WANCommonInterfaceConfig:1
SetEnabledForInternet. Checks run in the order of spec 5.6.0b: 402, 601, 606 for a restricted
control point (rule R7), then the errors-by-state table of 5.7; only then does the model act.
The Get* actions are public and read the model directly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from igd.core import errors
from igd.core.connection_values import (
    CONNECTION_TYPES,
    IP_ROUTED,
    ConnectionStatus,
    LastConnectionError,
)
from igd.core.errors import UpnpError
from igd.core.wan_interface import UI4_MAX

if TYPE_CHECKING:
    from igd.core.connection import ConnectionModel

_Status = ConnectionStatus


def set_connection_type(model: ConnectionModel, connection_type: str, *, authorized: bool) -> None:
    """SetConnectionType: the type follows the host, so 601, 606 or 731 (5.6.1 "Ours")."""
    if connection_type not in CONNECTION_TYPES:
        raise UpnpError(errors.ARGUMENT_VALUE_OUT_OF_RANGE, connection_type)
    _check_authorized(authorized)
    raise UpnpError(errors.READ_ONLY, "the connection type follows the host")


async def request_connection(model: ConnectionModel, *, authorized: bool) -> None:
    """RequestConnection (5.6.3): 706, 710, 709, 705, 707; returns once Connected."""
    _check_authorized(authorized)
    _check_configured_and_routed(model)
    if not model.settings.enabled_for_internet:
        raise UpnpError(errors.INTERNET_ACCESS_DISABLED)
    if model.status is _Status.CONNECTING:
        raise UpnpError(errors.CONNECTION_SETUP_IN_PROGRESS)
    if model.status is _Status.DISCONNECTING:
        raise UpnpError(errors.DISCONNECT_IN_PROGRESS)
    if model.status is _Status.PENDING_DISCONNECT:  # Ours: the gateway keeps it (a MAY)
        model.keep_connected()
    elif model.status is _Status.DISCONNECTED:
        await model.connect()


async def request_termination(model: ConnectionModel, *, authorized: bool) -> None:
    """RequestTermination (5.6.4): 706, 710, 711, 707; warns first from Connected."""
    _check_authorized(authorized)
    _check_configured_and_routed(model)
    if model.status is _Status.DISCONNECTED:
        raise UpnpError(errors.CONNECTION_ALREADY_TERMINATED)
    if model.status in (_Status.DISCONNECTING, _Status.PENDING_DISCONNECT):
        raise UpnpError(errors.DISCONNECT_IN_PROGRESS)
    if model.status is _Status.CONNECTING:  # no PendingDisconnect from Connecting (5.7)
        await model.terminate(LastConnectionError.ERROR_USER_DISCONNECT)
    else:
        await model.begin_termination(LastConnectionError.ERROR_USER_DISCONNECT)


async def force_termination(model: ConnectionModel, *, authorized: bool) -> None:
    """ForceTermination (5.6.5): 706, 710, 711, 707; ends at once, whatever the warning delay."""
    _check_authorized(authorized)
    _check_configured_and_routed(model)
    if model.status is _Status.DISCONNECTED:
        raise UpnpError(errors.CONNECTION_ALREADY_TERMINATED)
    if model.status is _Status.DISCONNECTING:
        raise UpnpError(errors.DISCONNECT_IN_PROGRESS)
    await model.terminate(LastConnectionError.ERROR_FORCED_DISCONNECT)


def set_auto_disconnect_time(model: ConnectionModel, seconds: int, *, authorized: bool) -> None:
    """SetAutoDisconnectTime (5.6.6): counts from entering Connected; 0 = never."""
    _check_ui4(seconds)
    _check_authorized(authorized)
    model.store_settings(replace(model.settings, auto_disconnect_time=seconds))


def set_idle_disconnect_time(model: ConnectionModel, seconds: int, *, authorized: bool) -> None:
    """SetIdleDisconnectTime (5.6.7): seconds without WAN traffic; 0 = never."""
    _check_ui4(seconds)
    _check_authorized(authorized)
    model.store_settings(replace(model.settings, idle_disconnect_time=seconds))


def set_warn_disconnect_delay(model: ConnectionModel, seconds: int, *, authorized: bool) -> None:
    """SetWarnDisconnectDelay (5.6.8): applies to the next termination."""
    _check_ui4(seconds)
    _check_authorized(authorized)
    model.store_settings(replace(model.settings, warn_disconnect_delay=seconds))


async def set_enabled_for_internet(
    model: ConnectionModel, enabled: bool, *, authorized: bool
) -> None:
    """SetEnabledForInternet (WANCommonInterfaceConfig:1): 0 ends the connection (5.7)."""
    _check_authorized(authorized)
    await model.enable_for_internet(enabled)


def _check_ui4(value: int) -> None:
    if not 0 <= value <= UI4_MAX:
        raise UpnpError(errors.INVALID_ARGS, f"not a ui4: {value}")


def _check_authorized(authorized: bool) -> None:
    if not authorized:
        raise UpnpError(errors.ACTION_NOT_AUTHORIZED, "connection control is for trusted CPs")


def _check_configured_and_routed(model: ConnectionModel) -> None:
    if model.status is _Status.UNCONFIGURED:
        raise UpnpError(errors.CONNECTION_NOT_CONFIGURED)
    if model.connection_type_info()[0] != IP_ROUTED:
        raise UpnpError(errors.INVALID_CONNECTION_TYPE)

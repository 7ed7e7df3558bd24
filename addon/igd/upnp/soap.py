"""SOAP control: read an action call, check and type its arguments, run the handler, answer.

async-upnp-client's own dispatcher answers HTTP 400 for unknown actions and arguments, crashes on
a missing one, writes "Action Failed" for every error and checks neither the ui2/ui4 ranges nor the
body's namespace (ha-ecosystem.md §2), so the wire protocol is ours: HTTP-level refusals as in
igd2-device.md 5.4, faults with the standard's codes and names (5.3), type errors as 402 before any
value rule of the core is looked at (wanipconnection2.md 5.6.0b step 1), out-arguments in SCPD
order (5.2), and never a traceback to the client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from aiohttp import web
from async_upnp_client.server import UpnpServerAction
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from igd.core.errors import (
    ACTION_FAILED,
    ERROR_DESCRIPTIONS,
    INVALID_ACTION,
    INVALID_ARGS,
    UpnpError,
)
from igd.upnp.refusal_log import POLICY_REFUSALS, RefusalLog
from igd.upnp.service import ArgumentValue, GatewayService, format_value

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from async_upnp_client.client import UpnpAction

LOG = logging.getLogger(__name__)

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENCODING_NS = "http://schemas.xmlsoap.org/soap/encoding/"
CONTROL_NS = "urn:schemas-upnp-org:control-1-0"  # UDA 1.0 3.2: faults and QueryStateVariable
QUERY_STATE_VARIABLE = "QueryStateVariable"  # UDA 1.0 3.2.1, deprecated but still sent
INVALID_VAR = 404  # UDA 1.0 3.2.2: QueryStateVariable for a variable the service does not have
MAX_BODY_BYTES = 16 * 1024  # security-notes.md A9
MAX_DEPTH = 32  # security-notes.md A8 (an action call is four levels deep)
MAX_ELEMENTS = 256  # security-notes.md A8 (the longest call has eight arguments)
UI2_MAX = 0xFFFF  # UDA data type ui2
UI4_MAX = 0xFFFF_FFFF  # UDA data type ui4
CONTENT_TYPE_XML = 'text/xml; charset="utf-8"'  # UDA 1.1 3.2.1
MAX_LOGGED_ACTION = 64  # characters of a SOAPACTION's action name that a log line repeats

_DIGITS = re.compile(r"[0-9]+")
_BOOLEANS = {"0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}
# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except surrogates and
# U+FFFE/U+FFFF; anything else in a string would make the whole response unparsable.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

CallerFactory = Callable[[web.Request], object]
ControlHandler = Callable[[web.Request], Awaitable[web.Response]]


class ActionError(Exception):
    """A UPnP error that is not one of WANIPConnection:2's (Layer3Forwarding's 72x, UDA's 404)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description


def _fault_for(code: int) -> ActionError:
    return ActionError(code, ERROR_DESCRIPTIONS[code])


class _RefusedError(Exception):
    """An answer at the HTTP level, before any SOAP processing (igd2-device.md 5.4)."""

    def __init__(self, status: int, reason: str, *, close: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.close = close


@dataclass(frozen=True, slots=True)
class _Call:
    """An action call as read from the wire, before its arguments are typed."""

    namespace: (
        str  # the body element's namespace: the response answers in it (wanipconnection2 5.8)
    )
    action: str
    arguments: dict[str, str]


def control_handler(service: GatewayService, caller_for: CallerFactory) -> ControlHandler:
    """The aiohttp handler of `service`'s control URL.

    `caller_for(request)` gives what the handlers receive as `caller` (the core's `Caller`: source
    address and whether that control point is authorized); the HTTP application decides it, after
    its own LAN-only and Host-header checks.
    """

    refusals = RefusalLog(LOG)

    async def handle(request: web.Request) -> web.Response:
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        try:
            call = await _read_call(request, service)
            result = await _dispatch(service, call, caller_for(request))
        except _RefusedError as refused:
            LOG.debug("SOAP from %s refused: %s %s", request.remote, refused.status, refused)
            response = web.Response(status=refused.status)
            if refused.close:
                response.force_close()
            return response
        except UpnpError as error:
            if error.code in POLICY_REFUSALS:  # say which rule or limit decided
                action = request.headers.get("SOAPACTION", "").rpartition("#")[2]
                refusals.refused(
                    request.remote or "",
                    "%s from %s refused: %s",
                    action.strip("\"' ")[:MAX_LOGGED_ACTION],
                    request.remote,
                    error,
                )
            else:
                LOG.debug("SOAP from %s: %s", request.remote, error)
            return fault_response(error.code, error.description)
        except ActionError as fault:
            LOG.debug("SOAP from %s: %s", request.remote, fault)
            return fault_response(fault.code, fault.description)
        except Exception:
            LOG.exception("action failed unexpectedly for %s", request.remote)
            return fault_response(ACTION_FAILED, ERROR_DESCRIPTIONS[ACTION_FAILED])
        return result

    return handle


async def _read_call(request: web.Request, service: GatewayService) -> _Call:
    """Headers, body and envelope of a control request; HTTP refusals or 401 for what is wrong."""
    soap_action = request.headers.get("SOAPACTION")
    if soap_action is None:
        raise _RefusedError(400, "no SOAPACTION header")
    if request.content_type != "text/xml":
        raise _RefusedError(415, f"content type {request.content_type}")
    action_element = _action_element(await _read_body(request))
    header_type, header_action = parse_soap_action(soap_action)
    namespace, _, action = action_element.tag[1:].rpartition("}")
    if action != header_action:
        raise _fault_for(INVALID_ACTION)
    if action == QUERY_STATE_VARIABLE and header_type == namespace == CONTROL_NS:
        pass
    elif not (_serves(service, header_type) and _serves(service, namespace)):
        raise _fault_for(INVALID_ACTION)
    return _Call(namespace, action, _raw_arguments(action_element))


def parse_soap_action(header: str) -> tuple[str, str]:
    """(service type, action name) of a SOAPACTION header, quoted, single-quoted or bare.

    A header that names no action is 401 Invalid Action (miniupnpd strips both kinds of quotes;
    a lone quote was CVE-2026-5720 there).
    """
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    service_type, separator, action = value.rpartition("#")
    if not separator or not service_type or not action:
        raise _fault_for(INVALID_ACTION)
    return service_type, action


def _serves(service: GatewayService, service_type: str) -> bool:
    """Whether a request for `service_type` belongs here: our type, or an older version of it.

    v2 devices answer v1 calls with the v1 namespace (wanipconnection2.md 5.8).
    """
    our_base, _, our_version = service.service_type.rpartition(":")
    base, _, version = service_type.rpartition(":")
    return (
        base == our_base
        and _DIGITS.fullmatch(version) is not None
        and (1 <= int(version) <= int(our_version))
    )


async def _read_body(request: web.Request) -> bytes:
    """The request body, refusing more than MAX_BODY_BYTES before reading it all."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _RefusedError(413, f"body of {request.content_length} bytes", close=True)
    body = bytearray()
    while chunk := await request.content.read(MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _RefusedError(413, "body over the limit", close=True)
    return bytes(body)


def _action_element(body: bytes) -> Element:
    """The one element inside the envelope's Body; 400 for anything else (security A8)."""
    try:
        envelope: Element = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as error:
        raise _RefusedError(400, f"not an XML document: {error}") from None
    _check_size(envelope)
    if envelope.tag != f"{{{SOAP_ENVELOPE_NS}}}Envelope":
        raise _RefusedError(400, "no SOAP envelope")
    bodies = envelope.findall(f"{{{SOAP_ENVELOPE_NS}}}Body")
    if len(bodies) != 1 or len(bodies[0]) != 1:
        raise _RefusedError(400, "the SOAP body must hold one action element")
    action_element: Element = bodies[0][0]
    if not action_element.tag.startswith("{"):
        raise _fault_for(INVALID_ACTION)
    return action_element


def _check_size(root: Element) -> None:
    """Refuse documents deeper than MAX_DEPTH or with more than MAX_ELEMENTS elements."""
    count = 0
    level: list[Element] = [root]
    for _depth in range(MAX_DEPTH):
        count += len(level)
        if count > MAX_ELEMENTS:
            raise _RefusedError(400, "too many elements")
        level = [child for element in level for child in element]
        if not level:
            return
    raise _RefusedError(400, "too deeply nested")


def _raw_arguments(action_element: Element) -> dict[str, str]:
    """Argument texts by local name; 402 for a repeated argument or one with inner elements."""
    arguments: dict[str, str] = {}
    for element in action_element:
        name = element.tag.rpartition("}")[2]
        if name in arguments or len(element):
            raise _fault_for(INVALID_ARGS)
        arguments[name] = element.text or ""
    return arguments


async def _dispatch(service: GatewayService, call: _Call, caller: object) -> web.Response:
    if call.action == QUERY_STATE_VARIABLE and call.namespace == CONTROL_NS:
        return _query_state_variable(service, call)
    if call.action not in service.actions:
        raise _fault_for(INVALID_ACTION)
    action = cast("UpnpServerAction", service.actions[call.action])
    arguments = typed_arguments(
        action, call.arguments, service.LENIENT_DEFAULTS.get(action.name, {})
    )
    result: Mapping[str, ArgumentValue] = await action.async_handle(caller=caller, **arguments)
    out = [
        (argument.name, format_value(result[argument.name])) for argument in action.out_arguments()
    ]
    return success_response(call.namespace, call.action, out)


def _query_state_variable(service: GatewayService, call: _Call) -> web.Response:
    """UDA 1.0 QueryStateVariable: evented variables only (igd2-device.md 5.5), else 404."""
    if set(call.arguments) != {"varName"}:
        raise _fault_for(INVALID_ARGS)
    values = dict(service.event_properties())
    name = call.arguments["varName"].strip()
    if name not in values:
        raise ActionError(INVALID_VAR, "Invalid Var")
    return success_response(CONTROL_NS, QUERY_STATE_VARIABLE, [("return", values[name])])


def typed_arguments(
    action: UpnpAction, raw: Mapping[str, str], lenient_defaults: Mapping[str, str]
) -> dict[str, ArgumentValue]:
    """Each in-argument exactly once and of its SCPD type, else 402 (5.6.0b step 1).

    Arguments are matched by name whatever order they came in (some clients do not follow the
    SCPD's); a missing one takes its lenient default when the action has one.
    """
    declared = {argument.name: argument for argument in action.in_arguments()}
    if not set(raw) <= set(declared):
        raise _fault_for(INVALID_ARGS)
    typed: dict[str, ArgumentValue] = {}
    for name, argument in declared.items():
        text = raw.get(name, lenient_defaults.get(name))
        if text is None:
            raise _fault_for(INVALID_ARGS)
        typed[name] = parse_value(argument.related_state_variable.data_type, text)
    return typed


def parse_value(data_type: str, text: str) -> ArgumentValue:
    """A value of UPnP type `data_type` (wanipconnection2.md 4.2); 402 when it is not one."""
    if data_type in ("ui2", "ui4"):
        digits = text.strip()
        if _DIGITS.fullmatch(digits) is None:
            raise _fault_for(INVALID_ARGS)
        number = int(digits)
        if number > (UI2_MAX if data_type == "ui2" else UI4_MAX):
            raise _fault_for(INVALID_ARGS)
        return number
    if data_type == "boolean":
        flag = _BOOLEANS.get(text.strip().lower())
        if flag is None:
            raise _fault_for(INVALID_ARGS)
        return flag
    if data_type == "string":
        return text
    raise TypeError(f"no SOAP parsing for UPnP type {data_type}")


def xml_text(value: str) -> str:
    """`value` as XML character data: escaped, without characters XML 1.0 cannot carry."""
    value = _NOT_XML_CHAR.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _envelope(body: str, status: int) -> web.Response:
    document = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<s:Envelope xmlns:s="{SOAP_ENVELOPE_NS}" s:encodingStyle="{SOAP_ENCODING_NS}">'
        f"<s:Body>{body}</s:Body></s:Envelope>\r\n"
    )
    return web.Response(
        status=status,
        body=document.encode(),
        headers={"Content-Type": CONTENT_TYPE_XML, "EXT": ""},
    )


def success_response(
    namespace: str, action: str, out_arguments: list[tuple[str, str]]
) -> web.Response:
    """200 with `<u:{action}Response>` in `namespace` and the out-arguments in the given order."""
    values = "".join(f"<{name}>{xml_text(value)}</{name}>" for name, value in out_arguments)
    return _envelope(
        f'<u:{action}Response xmlns:u="{xml_text(namespace)}">{values}</u:{action}Response>', 200
    )


def fault_response(code: int, description: str) -> web.Response:
    """500 with a UPnPError fault (UDA 1.0 3.2.2, igd2-device.md 5.3)."""
    return _envelope(
        "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>"
        f'<detail><UPnPError xmlns="{CONTROL_NS}"><errorCode>{code}</errorCode>'
        f"<errorDescription>{xml_text(description)}</errorDescription></UPnPError></detail>"
        "</s:Fault>",
        500,
    )

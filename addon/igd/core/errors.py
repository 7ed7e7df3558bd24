"""UPnP action errors, numbered and named as WANIPConnection:2 Table 51 names them.

Every front-end turns an `UpnpError` into its own wire form (a SOAP fault today), so the
numbers and the `errorDescription` strings live here once.
"""

from __future__ import annotations

# UPnP Device Architecture codes, as listed in Table 51 (5.6.23)
INVALID_ACTION = 401
INVALID_ARGS = 402
ACTION_FAILED = 501
ARGUMENT_VALUE_INVALID = 600
ARGUMENT_VALUE_OUT_OF_RANGE = 601
OPTIONAL_ACTION_NOT_IMPLEMENTED = 602
OUT_OF_MEMORY = 603
HUMAN_INTERVENTION_REQUIRED = 604
STRING_ARGUMENT_TOO_LONG = 605
ACTION_NOT_AUTHORIZED = 606
# WANIPConnection:2 codes, Table 51 (5.6.23)
INACTIVE_CONNECTION_STATE_REQUIRED = 703
CONNECTION_SETUP_FAILED = 704
CONNECTION_SETUP_IN_PROGRESS = 705
CONNECTION_NOT_CONFIGURED = 706
DISCONNECT_IN_PROGRESS = 707
INVALID_LAYER2_ADDRESS = 708
INTERNET_ACCESS_DISABLED = 709
INVALID_CONNECTION_TYPE = 710
CONNECTION_ALREADY_TERMINATED = 711
SPECIFIED_ARRAY_INDEX_INVALID = 713
NO_SUCH_ENTRY_IN_ARRAY = 714
WILD_CARD_NOT_PERMITTED_IN_SRC_IP = 715
WILD_CARD_NOT_PERMITTED_IN_EXT_PORT = 716
CONFLICT_IN_MAPPING_ENTRY = 718
NO_PORT_MAPS_AVAILABLE = 728
CONFLICT_WITH_OTHER_MECHANISMS = 729
PORT_MAPPING_NOT_FOUND = 730
READ_ONLY = 731
WILD_CARD_NOT_PERMITTED_IN_INT_PORT = 732
INCONSISTENT_PARAMETERS = 733

# errorDescription of each code a v2 device may send (5.6.23, Table 51); 724-727 are v1-only
# and MUST NOT be sent, so they have no entry.
ERROR_DESCRIPTIONS: dict[int, str] = {
    INVALID_ACTION: "Invalid Action",
    INVALID_ARGS: "Invalid Args",
    ACTION_FAILED: "Action Failed",
    ARGUMENT_VALUE_INVALID: "Argument Value Invalid",
    ARGUMENT_VALUE_OUT_OF_RANGE: "Argument Value Out of Range",
    OPTIONAL_ACTION_NOT_IMPLEMENTED: "Optional Action Not Implemented",
    OUT_OF_MEMORY: "Out of Memory",
    HUMAN_INTERVENTION_REQUIRED: "Human Intervention Required",
    STRING_ARGUMENT_TOO_LONG: "String Argument Too Long",
    ACTION_NOT_AUTHORIZED: "Action not authorized",
    INACTIVE_CONNECTION_STATE_REQUIRED: "InactiveConnectionStateRequired",
    CONNECTION_SETUP_FAILED: "ConnectionSetupFailed",
    CONNECTION_SETUP_IN_PROGRESS: "ConnectionSetupInProgress",
    CONNECTION_NOT_CONFIGURED: "ConnectionNotConfigured",
    DISCONNECT_IN_PROGRESS: "DisconnectInProgress",
    INVALID_LAYER2_ADDRESS: "InvalidLayer2Address",
    INTERNET_ACCESS_DISABLED: "InternetAccessDisabled",
    INVALID_CONNECTION_TYPE: "InvalidConnectionType",
    CONNECTION_ALREADY_TERMINATED: "ConnectionAlreadyTerminated",
    SPECIFIED_ARRAY_INDEX_INVALID: "SpecifiedArrayIndexInvalid",
    NO_SUCH_ENTRY_IN_ARRAY: "NoSuchEntryInArray",
    WILD_CARD_NOT_PERMITTED_IN_SRC_IP: "WildCardNotPermittedInSrcIP",
    WILD_CARD_NOT_PERMITTED_IN_EXT_PORT: "WildCardNotPermittedInExtPort",
    CONFLICT_IN_MAPPING_ENTRY: "ConflictInMappingEntry",
    NO_PORT_MAPS_AVAILABLE: "NoPortMapsAvailable",
    CONFLICT_WITH_OTHER_MECHANISMS: "ConflictWithOtherMechanisms",
    PORT_MAPPING_NOT_FOUND: "PortMappingNotFound",
    READ_ONLY: "ReadOnly",
    WILD_CARD_NOT_PERMITTED_IN_INT_PORT: "WildCardNotPermittedInIntPort",
    INCONSISTENT_PARAMETERS: "InconsistentParameters",
}


class UpnpError(Exception):
    """An action refused with a UPnP error code; `detail` is for logs, never for the wire."""

    def __init__(self, code: int, detail: str = "") -> None:
        if code not in ERROR_DESCRIPTIONS:
            raise ValueError(f"no UPnP error {code} in WANIPConnection:2 Table 51")
        self.code = code
        self.description = ERROR_DESCRIPTIONS[code]
        self.detail = detail
        super().__init__(f"{code} {self.description}" + (f": {detail}" if detail else ""))

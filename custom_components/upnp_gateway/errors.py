"""Names of the UPnP error codes a gateway answers with, as the standards name them."""

from __future__ import annotations

from typing import Final

# UPnP Device Architecture 2.0, 3.2.2 (common action errors)
# and WANIPConnection:2, 2.4.x "Errors" tables (incl. the v1 codes 724-727 a v2 CP must understand)
ERROR_NAMES: Final[dict[int, str]] = {
    401: "InvalidAction",
    402: "InvalidArgs",
    501: "ActionFailed",
    600: "ArgumentValueInvalid",
    601: "ArgumentValueOutOfRange",
    602: "OptionalActionNotImplemented",
    603: "OutOfMemory",
    604: "HumanInterventionRequired",
    605: "StringArgumentTooLong",
    606: "ActionNotAuthorized",
    713: "SpecifiedArrayIndexInvalid",
    714: "NoSuchEntryInArray",
    715: "WildCardNotPermittedInSrcIP",
    716: "WildCardNotPermittedInExtPort",
    718: "ConflictInMappingEntry",
    724: "SamePortValuesRequired",
    725: "OnlyPermanentLeasesSupported",
    726: "RemoteHostOnlySupportsWildcard",
    727: "ExternalPortOnlySupportsWildcard",
    728: "NoPortMapsAvailable",
    729: "ConflictWithOtherMechanisms",
    730: "PortMappingNotFound",
    731: "ReadOnly",
    732: "WildCardNotPermittedInIntPort",
    733: "InconsistentParameters",
}


def error_name(code: int) -> str:
    """The standard's name for `code`, or "UnknownError" for a vendor's own code."""
    return ERROR_NAMES.get(code, "UnknownError")

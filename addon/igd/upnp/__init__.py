"""The UPnP front-end: device descriptions, SOAP control, GENA events and SSDP."""

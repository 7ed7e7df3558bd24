"""A control point's HTTP for the lab, run as a script inside a namespace; prints one JSON line.

    http_tool.py soap URL ACTION [--bind ADDRESS] [NAME=VALUE …]   a WANIPConnection:2 action
    http_tool.py request METHOD URL [--header NAME:VALUE …]          any request (GENA, GET)

The line holds `status` and `error` (the UPnP errorCode of a fault), or `refused` with the reason
when no HTTP answer came (connection refused or closed). Standard library only: it starts fast.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
from urllib.parse import urlsplit

SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:2"
TIMEOUT = 10.0
_ERROR_CODE = re.compile(r"<errorCode>(\d+)</errorCode>")


def envelope(action: str, arguments: dict[str, str]) -> bytes:
    values = "".join(f"<{name}>{value}</{name}>" for name, value in arguments.items())
    return (
        '<?xml version="1.0"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="{SERVICE}">{values}</u:{action}>'
        "</s:Body></s:Envelope>"
    ).encode()


def exchange(
    method: str, url: str, headers: dict[str, str], body: bytes = b"", bind: str | None = None
) -> dict[str, object]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "",
        parts.port or 80,
        timeout=TIMEOUT,
        source_address=(bind, 0) if bind else None,
    )
    try:
        connection.request(method, parts.path or "/", body=body or None, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
    except OSError as error:
        return {"status": None, "refused": type(error).__name__}
    except http.client.HTTPException as error:
        return {"status": None, "refused": type(error).__name__}
    finally:
        connection.close()
    code = _ERROR_CODE.search(text)
    return {
        "status": response.status,
        "error": int(code.group(1)) if code else None,
        "headers": {name.upper(): value for name, value in response.getheaders()},
        "body": text,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    soap = commands.add_parser("soap")
    soap.add_argument("url")
    soap.add_argument("action")
    soap.add_argument("--bind")
    soap.add_argument("arguments", nargs="*")
    request = commands.add_parser("request")
    request.add_argument("method")
    request.add_argument("url")
    request.add_argument("--header", action="append", default=[])
    options = parser.parse_args()
    if options.command == "soap":
        arguments = dict(pair.split("=", 1) for pair in options.arguments)
        headers = {
            "Content-Type": 'text/xml; charset="utf-8"',
            "SOAPAction": f'"{SERVICE}#{options.action}"',
        }
        body = envelope(options.action, arguments)
        result = exchange("POST", options.url, headers, body, options.bind)
    else:
        headers = {
            name.strip(): value.strip()
            for name, _, value in (header.partition(":") for header in options.header)
        }
        result = exchange(options.method, options.url, headers)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

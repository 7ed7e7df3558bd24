-- wrk script: every request is a GetExternalIPAddress SOAP call (WANIPConnection:2 5.6.13);
-- done() prints one JSON line that bench/load.py reads.
wrk.method = "POST"
wrk.headers["Content-Type"] = 'text/xml; charset="utf-8"'
wrk.headers["SOAPAction"] = '"urn:schemas-upnp-org:service:WANIPConnection:2#GetExternalIPAddress"'
wrk.body = '<?xml version="1.0"?>'
  .. '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
  .. 's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
  .. '<u:GetExternalIPAddress xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"/>'
  .. '</s:Body></s:Envelope>'

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end

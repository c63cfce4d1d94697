"""One HTTP request from inside a namespace, answer included: how the harness talks to the
real programs' control interfaces (eiskaltdcpp's JSON-RPC) and asks a tracker for a scrape,
which the host cannot reach because they listen inside the lab."""

import http.client


def http_call(report, host, port, path="/", method="GET", body=None, headers=None, timeout=3.0):
    """Result: status and body (text, latin-1 decoded so that any byte survives), or error."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = body.encode() if isinstance(body, str) else body
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        return {"status": resp.status, "body": resp.read().decode("latin-1")}
    except (OSError, http.client.HTTPException) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        conn.close()

#!/bin/sh
# The MCP conformance harness's client command for test/integration/conformance-client-auth.test.ts:
# hands the scenario (its server URL, the harness's MCP_CONFORMANCE_* variables) to the test process,
# which drives a real Gatehouse core, and exits with its verdict. $1: the test's relay URL; $2: the
# scenario server's URL, appended by the harness.
set -eu
exec curl --silent --show-error --fail-with-body --max-time 110 \
  --data-urlencode "url=$2" \
  --data-urlencode "scenario=${MCP_CONFORMANCE_SCENARIO:-}" \
  --data-urlencode "context=${MCP_CONFORMANCE_CONTEXT:-}" \
  --data-urlencode "version=${MCP_CONFORMANCE_PROTOCOL_VERSION:-}" \
  "$1"

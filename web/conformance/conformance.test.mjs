// The official suite, pointed at the server scripts/test.sh starts (CONFORMANCE_TEST_URL).
// The package's own CLI cannot find its tests from a consumer project (upstream issue #284),
// so we call its entry point from a test file of our own.
import { runConformanceTests } from "@durable-streams/server-conformance-tests"

const baseUrl = process.env.CONFORMANCE_TEST_URL
if (!baseUrl) throw new Error("set CONFORMANCE_TEST_URL to the server's origin, e.g. http://127.0.0.1:4437")

runConformanceTests({
  baseUrl,
  longPollTimeoutMs: Number(process.env.LONG_POLL_TIMEOUT_MS ?? 1000), // the server's --long-poll-timeout (scripts/test.sh)
})

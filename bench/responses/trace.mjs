// A deterministic (seeded) coding-agent trace, exported as data.
//
// The agent is asked to fix a rate-limiter bug in a Java service. It has a large
// system prompt (`instructions`, agent rules and tool conventions), four function
// tools (read_file, run_tests, grep, apply_patch, each with a JSON-schema
// `parameters`), one user task, then `turns` tool-calling turns: the model emits
// one function_call, the client answers with one function_call_output of 2-8 KB
// (file contents, test logs, grep hits, patch results), and finally the model
// answers with a text summary.
//
//   import { buildTrace } from "./trace.mjs";
//   const t = buildTrace({ seed: 42, turns: 24 });
//   t.turns[i].call   -> { call_id, name, arguments }   what the upstream produces at request i
//   t.turns[i].output -> string                         the function_call_output the client sends next
//   t.finalText                                         what the upstream produces at request `turns`
//
// Requests are numbered 0..turns: request k carries k tool outputs; requests
// 0..turns-1 are answered with turns[k].call, request `turns` with finalText.
//
// `node trace.mjs [--seed N] [--turns N]` prints a summary (sizes per turn).

export const DEFAULT_SEED = 42;
export const DEFAULT_TURNS = 24;
export const MODEL = "bench-coder-1";
export const OUTPUT_MIN = 2048;
export const OUTPUT_MAX = 8192;

// ---- seeded PRNG (mulberry32) ---------------------------------------------------
function rngFrom(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    hex: (n) => { let s = ""; while (s.length < n) s += Math.floor(next() * 16).toString(16); return s; },
  };
  return r;
}

// ---- the system prompt ------------------------------------------------------------
export const INSTRUCTIONS = `You are Forge, a senior software engineer working as an autonomous coding agent inside a developer's repository. You operate in a sandboxed checkout of the repository and interact with it only through the tools described below. Your goal is to complete the user's task end to end: understand the code, reproduce the problem, make a minimal and correct change, verify it with the project's tests, and report what you did.

# General rules

1. Work in small, verifiable steps. Before changing a file, read it. Before claiming a fix works, run the tests that cover it and read their output.
2. Never guess file contents, class names, method signatures or test names. If you are unsure, use grep or read_file first. Hallucinated APIs are the most common cause of broken patches.
3. Prefer the smallest change that fixes the root cause. Do not reformat unrelated code, do not rename public symbols, do not reorder imports unless the build requires it, and do not introduce new dependencies.
4. Keep the existing code style: indentation (4 spaces in Java sources, 2 in YAML and JSON), brace placement, naming conventions, Javadoc on public methods, and the project's logging idioms (SLF4J with parameterized messages, never string concatenation in log calls).
5. Never weaken a test to make it pass. If a test is genuinely wrong, explain why in your final message and fix it in a separate hunk; otherwise fix the production code.
6. Do not delete or skip tests, do not add @Disabled, do not widen tolerances in assertions, and do not catch and swallow exceptions to hide a failure.
7. Treat thread safety as a first-class requirement. Code in the rate, clock and store packages is called concurrently from request threads; state shared between threads must be guarded (synchronized, locks, or atomics) and every read-modify-write must be atomic.
8. Time must come from the injected Clock abstraction, never from System.currentTimeMillis, System.nanoTime or Instant.now directly. Tests rely on a controllable clock.
9. When the task is ambiguous, choose the interpretation most consistent with the existing tests and documentation, and state the assumption in your final message.
10. If a tool call fails (bad path, patch that does not apply, build error), read the error, adjust, and retry. Do not repeat the exact same call more than once.

# Tools

You have four tools. Call exactly one tool per message and wait for its result.

## read_file
Reads a text file from the repository and returns it with line numbers (cat -n style: right-aligned number, a tab, then the line). Paths are relative to the repository root. Use start_line and end_line to read a window of a large file; lines are 1-based and inclusive. Files larger than 2,000 lines are truncated unless a window is given. Binary files are refused. Line numbers are for your orientation only: never include them in patches.

## grep
Searches file contents with a regular expression (Java regex syntax, case-sensitive unless you pass case_insensitive). Returns matching lines as path:line:text, at most max_results hits (default 200), sorted by path then line. Use path to restrict the search to a directory and glob to restrict file names (for example "*.java" or "*Test.java"). Prefer grep over reading many files when looking for usages, callers, or configuration keys.

## run_tests
Runs tests with Maven in offline mode and returns the console output (truncated in the middle if it exceeds 8 KB; the summary at the end is always kept). Pass target as a test class simple name (TokenBucketTest), a class and method (TokenBucketTest#refillIsCapped), a module (ledger-core), or "all". Use the narrowest target that covers your change while iterating, then run the whole module before you finish. A run takes between a few seconds and two minutes; do not run the full suite after every small edit.

## apply_patch
Applies a patch to the working tree. The patch format is:

*** Begin Patch
*** Update File: path/to/File.java
@@ optional context line, for example a method signature
 unchanged context line
-removed line
+added line
*** End Patch

Rules for patches: paths are relative to the repository root; each hunk needs at least three lines of unchanged context before and after the change, copied exactly (including indentation) from the current file; use "*** Add File: path" followed by lines prefixed with + to create a file and "*** Delete File: path" to delete one; several files may be changed in one patch. If a hunk does not apply, the whole patch is rejected and nothing is changed: re-read the file and regenerate the hunk from the current contents. The tool answers with the list of changed files and the patched region of each file.

# Workflow

- Start by locating the relevant code with grep, then read the files involved, including their tests.
- Reproduce the problem with run_tests before changing anything, and keep the failing output in mind.
- Make the change with apply_patch. Re-run the narrow test target. Iterate until it passes.
- Look for other callers or similar code paths with the same bug (grep) and fix them too if they are in scope.
- Run the whole module's tests once at the end.
- Finish with a short report for the user: the root cause in one or two sentences, the files you changed and why, the tests you ran and their result, and anything you noticed but deliberately did not change.

# Output style

Be concise. Do not narrate every step while you work; the user sees your tool calls. In the final report use short paragraphs and a bullet list of changed files. Quote identifiers with backticks. Do not paste whole files into the final report. Never claim a test passed unless you saw it pass in the tool output of this session.

# Repository conventions

- Build: Maven multi-module (ledger-core, ledger-api, ledger-store-jdbc, ledger-it). Java 21. Tests use JUnit 5, AssertJ and Mockito; integration tests end in IT and run only in ledger-it.
- Time: dev.ledger.clock.Clock has nanoTime() (monotonic, for durations) and instant() (wall clock, for timestamps shown to users). Production wires SystemClock; tests use ManualClock, which only moves when the test calls advance() or set().
- Concurrency: request threads are virtual threads. Avoid synchronized blocks around I/O (they pin the carrier thread); ReentrantLock is preferred for anything that may block.
- Configuration: RateLimiterConfig is immutable and reloaded by replacing the instance in LimiterRegistry; never mutate a config in place.
- Metrics: Metrics.counter(name) and Metrics.timer(name); names are lowercase, dot-separated, prefixed with the package ("rate.", "store.").
- Errors: public methods validate arguments with Objects.requireNonNull and IllegalArgumentException with a message naming the argument; they never return null collections.

# Examples of good tool use

- To find where buckets are created: grep {"pattern": "new TokenBucket\\\\(", "path": "ledger-core/src", "glob": "*.java"}.
- To read the middle of a long file after grep pointed at line 412: read_file {"path": "...", "start_line": 380, "end_line": 460}.
- To iterate on one failing test: run_tests {"target": "TokenBucketTest#refillIsCapped"}; before finishing: run_tests {"target": "ledger-core"}.
- Bad: reading every file in a package one by one to find a method name; running "all" after a one-line change; a patch whose context lines were typed from memory.

# Safety

Never run or suggest commands that delete data outside the repository, push to remote branches, publish packages, or change credentials. The sandbox has no network access; do not try to download dependencies. If the task requires something you cannot do with these tools, say so plainly and stop.
`;

export const TASK = `Our API gateway's rate limiter lets bursts through after the host clock is adjusted. In production we saw a tenant configured for 100 requests/s get ~160 requests accepted in one second right after an NTP step, and the nightly build has a flaky TokenBucketTest (refillNeverExceedsCapacityAfterClockJump fails about 1 in 20 runs). Please find the root cause in ledger-core (package dev.ledger.rate and whatever it depends on), fix it properly (no sleeps, no retries in the test), make sure the limiter can never hold more than its configured capacity even under concurrent access, and run the module's tests. Keep the public API of TokenBucket and RateLimiter unchanged: other teams depend on it.`;

const fn = (name, description, properties, required) => ({
  type: "function",
  name,
  description,
  parameters: { type: "object", properties, required, additionalProperties: false },
  strict: false,
});

/** The four function tools, in Responses API shape ({type, name, description, parameters, strict}). */
export const TOOLS = [
  fn("read_file", "Read a text file from the repository. Returns the contents with 1-based line numbers (cat -n style). Use start_line/end_line for a window of a large file.", {
    path: { type: "string", description: "Path relative to the repository root, e.g. ledger-core/src/main/java/dev/ledger/rate/TokenBucket.java" },
    start_line: { type: "integer", minimum: 1, description: "First line to return (1-based, inclusive). Default: 1." },
    end_line: { type: "integer", minimum: 1, description: "Last line to return (inclusive). Default: end of file, at most 2000 lines." },
  }, ["path"]),
  fn("run_tests", "Run tests with Maven (offline) and return the console output. The summary at the end is always kept; long output is truncated in the middle.", {
    target: { type: "string", description: "A test class simple name (TokenBucketTest), Class#method, a module name (ledger-core), or \"all\"." },
    extra_args: { type: "array", items: { type: "string" }, description: "Extra Maven arguments, e.g. [\"-Dsurefire.rerunFailingTestsCount=0\"]." },
    timeout_seconds: { type: "integer", minimum: 10, maximum: 600, description: "Kill the run after this many seconds. Default: 300." },
  }, ["target"]),
  fn("grep", "Search file contents with a regular expression. Returns matching lines as path:line:text, sorted by path then line.", {
    pattern: { type: "string", description: "Java regular expression to search for." },
    path: { type: "string", description: "Directory or file to search, relative to the repository root. Default: the whole repository." },
    glob: { type: "string", description: "Only search files whose name matches this glob, e.g. \"*.java\"." },
    case_insensitive: { type: "boolean", description: "Match case-insensitively. Default: false." },
    max_results: { type: "integer", minimum: 1, maximum: 1000, description: "Maximum number of matching lines to return. Default: 200." },
  }, ["pattern"]),
  fn("apply_patch", "Apply a patch to the working tree (*** Begin Patch / *** Update File / @@ hunks / *** End Patch). All hunks apply or none do. Returns the changed files and the patched regions.", {
    patch: { type: "string", description: "The full patch text, from *** Begin Patch to *** End Patch." },
  }, ["patch"]),
];

/** The same tools in Chat Completions shape ({type, function:{name, description, parameters, strict}}). */
export const CHAT_TOOLS = TOOLS.map((t) => ({
  type: "function",
  function: { name: t.name, description: t.description, parameters: t.parameters, strict: t.strict },
}));

// ---- synthetic repository content -----------------------------------------------------
const MOD = "ledger-core/src/main/java/dev/ledger";
const TMOD = "ledger-core/src/test/java/dev/ledger";
const FILES = {
  TokenBucket: `${MOD}/rate/TokenBucket.java`,
  RateLimiter: `${MOD}/rate/RateLimiter.java`,
  LimiterRegistry: `${MOD}/rate/LimiterRegistry.java`,
  RateLimiterConfig: `${MOD}/config/RateLimiterConfig.java`,
  Clock: `${MOD}/clock/Clock.java`,
  SystemClock: `${MOD}/clock/SystemClock.java`,
  MonotonicClock: `${MOD}/clock/MonotonicClock.java`,
  RequestThrottleFilter: `${MOD}/api/RequestThrottleFilter.java`,
  BucketStore: `${MOD}/store/BucketStore.java`,
  TokenBucketTest: `${TMOD}/rate/TokenBucketTest.java`,
  RateLimiterTest: `${TMOD}/rate/RateLimiterTest.java`,
  ManualClock: `${TMOD}/clock/ManualClock.java`,
};
const pkgOf = (path) => path.replace(/^ledger-core\/src\/(main|test)\/java\//, "").replace(/\/[^/]+\.java$/, "").replace(/\//g, ".");
const classOf = (path) => path.replace(/^.*\//, "").replace(/\.java$/, "");

const NOUNS = ["tokens", "capacity", "refillRate", "lastRefill", "tenant", "bucket", "permits", "window", "deadline", "elapsed", "limit", "burst", "clock", "registry", "config", "store", "key", "quota", "interval", "nanos"];
const VERBS = ["refill", "tryAcquire", "acquire", "reset", "snapshot", "resolve", "register", "evict", "update", "compute", "validate", "record", "drain", "restore", "expire", "rebalance"];
const TYPES = ["long", "int", "boolean", "double", "Duration", "Optional<TokenBucket>", "BucketSnapshot", "String"];
const LOGS = ["bucket {} refill: +{} tokens (elapsed {} ns)", "tenant {} over limit: {} permits requested, {} available", "clock moved backwards by {} ns, ignoring", "evicting idle bucket {} after {}", "config reloaded: {} limits, {} overrides", "restored {} buckets from store in {} ms"];

function cap(s) { return s[0].toUpperCase() + s.slice(1); }

function javaMethod(r, cls) {
  const verb = r.pick(VERBS), noun = r.pick(NOUNS);
  const name = verb + cap(noun) + (r.chance(0.3) ? r.pick(["Locked", "Unchecked", "Internal", "Now", "At"]) : "");
  const ret = r.pick(TYPES);
  const arg = r.pick(["long now", "long permits", "String key", "Duration timeout", "TokenBucket bucket", "long nanos, int permits"]);
  const lines = [
    "",
    "    /**",
    `     * ${cap(verb)}s the ${noun} of this ${cls === "TokenBucket" ? "bucket" : "limiter"}${r.chance(0.5) ? `, using the injected {@link Clock}` : ""}.`,
    "     *",
    `     * @param ${arg.split(" ")[1].replace(",", "")} ${r.pick(["the current time in nanoseconds", "how many permits are requested", "the tenant key", "how long to wait at most", "the bucket to update"])}`,
    `     * @return ${r.pick(["the number of tokens available, never negative", "true if the permits were granted", "the updated snapshot", "the time until the next token, in nanoseconds"])}`,
    "     */",
    `    ${r.pick(["public", "public", "private", "synchronized", "public synchronized"])} ${ret} ${name}(${arg}) {`,
  ];
  const n = r.int(3, 10);
  for (let i = 0; i < n; i++) {
    const a = r.pick(NOUNS), b = r.pick(NOUNS);
    lines.push("        " + r.pick([
      `long ${a} = Math.max(0L, ${b} - this.${a});`,
      `if (${a} > ${b}) {\n            ${a} = ${b};\n        }`,
      `log.debug("${r.pick(LOGS)}", ${a}, ${b}, ${r.pick(NOUNS)});`,
      `this.${a} = Math.min(capacity, ${a} + ${b} * refillRate / NANOS_PER_SECOND);`,
      `Objects.requireNonNull(${a}, "${a}");`,
      `${a} = clock.nanoTime() - lastRefillNanos;`,
      `if (${a} <= 0) {\n            return ${ret === "boolean" ? "false" : ret === "long" || ret === "int" ? "0" : "null"};\n        }`,
      `metrics.counter("rate.${a}").increment(${b});`,
      `BucketSnapshot snapshot = store.load(key).orElseGet(() -> BucketSnapshot.full(capacity, clock.nanoTime()));`,
      `for (TokenBucket candidate : buckets.values()) {\n            candidate.${r.pick(VERBS)}(${a});\n        }`,
      `lock.lock();\n        try {\n            ${a} += ${b};\n        } finally {\n            lock.unlock();\n        }`,
    ]));
  }
  lines.push(`        return ${ret === "boolean" ? "true" : ret === "long" || ret === "int" ? r.pick(NOUNS) : ret === "double" ? "(double) tokens / capacity" : ret === "String" ? "key" : ret === "Duration" ? "Duration.ofNanos(" + r.pick(NOUNS) + ")" : ret.startsWith("Optional") ? "Optional.ofNullable(buckets.get(key))" : "snapshot"};`);
  lines.push("    }");
  return lines.join("\n").split("\n");
}

/** Lines of a plausible Java source file, at least `minLines` long. */
function javaLines(r, path, minLines) {
  const cls = classOf(path), pkg = pkgOf(path);
  const lines = [
    "/*",
    " * Copyright 2024-2026 Ledger Platform Team.",
    " * SPDX-License-Identifier: Apache-2.0",
    " */",
    `package ${pkg};`,
    "",
    "import dev.ledger.clock.Clock;",
    "import dev.ledger.config.RateLimiterConfig;",
    "import dev.ledger.metrics.Metrics;",
    "import java.time.Duration;",
    "import java.util.Objects;",
    "import java.util.Optional;",
    "import java.util.concurrent.ConcurrentHashMap;",
    "import java.util.concurrent.locks.ReentrantLock;",
    "import org.slf4j.Logger;",
    "import org.slf4j.LoggerFactory;",
    "",
    "/**",
    ` * ${cls}: ${r.pick(["a token bucket that refills continuously at a fixed rate", "per-tenant admission control on top of token buckets", "the registry of live limiters, keyed by tenant", "a clock abstraction so tests can control time"])}.`,
    " *",
    " * <p>Thread-safe. All time comes from the injected {@link Clock}.",
    " */",
    `public ${r.pick(["final class", "class", "final class"])} ${cls} {`,
    `    private static final Logger log = LoggerFactory.getLogger(${cls}.class);`,
    "    private static final long NANOS_PER_SECOND = 1_000_000_000L;",
    "",
    "    private final Clock clock;",
    "    private final long capacity;",
    "    private final long refillRate;",
    "    private final ReentrantLock lock = new ReentrantLock();",
    "    private final Metrics metrics;",
    "    private long tokens;",
    "    private long lastRefillNanos;",
    "",
    `    public ${cls}(Clock clock, RateLimiterConfig config, Metrics metrics) {`,
    "        this.clock = Objects.requireNonNull(clock, \"clock\");",
    "        this.capacity = config.capacity();",
    "        this.refillRate = config.refillPerSecond();",
    "        this.metrics = metrics;",
    "        this.tokens = capacity;",
    "        this.lastRefillNanos = clock.nanoTime();",
    "    }",
  ];
  while (lines.length < minLines) lines.push(...javaMethod(r, cls));
  lines.push("}");
  return lines;
}

const numbered = (lines, from = 1) => lines.map((l, i) => `${String(from + i).padStart(6)}\t${l}`);

/** Joins lines, stopping before the text would exceed `max` bytes; pads with more lines from `more()` to reach `min`. */
function sized(r, lines, more, min, max) {
  const out = [];
  let len = 0;
  let i = 0;
  const target = r.int(min + 200, max - 300);
  for (;;) {
    const l = i < lines.length ? lines[i++] : more();
    if (len + l.length + 1 > target && len >= min) break;
    if (len + l.length + 1 > max) break;
    out.push(l);
    len += l.length + 1;
  }
  return out.join("\n");
}

// ---- tool output generators ---------------------------------------------------------
function readFileOutput(r, path, start) {
  const lines = javaLines(r, path, 400);
  const from = start ?? 1;
  const body = numbered(lines.slice(from - 1), from);
  let extra = from - 1 + body.length;
  return sized(r, body, () => numbered(javaMethod(r, classOf(path)), ++extra).join("\n"), OUTPUT_MIN, OUTPUT_MAX);
}

function grepOutput(r, pattern) {
  const paths = Object.values(FILES);
  const hits = [];
  const more = () => {
    const p = r.pick(paths);
    const code = r.pick(javaMethod(r, classOf(p)).filter((l) => l.trim().length > 8)).trim();
    return `${p}:${r.int(12, 480)}:        ${code}`;
  };
  for (let i = 0; i < 200; i++) hits.push(more());
  hits.sort();
  const text = sized(r, hits, more, OUTPUT_MIN, OUTPUT_MAX - 120);
  return text + `\n\n[${text.split("\n").length} matches for /${pattern}/; results sorted by path]`;
}

function testOutput(r, target, failures, total) {
  const cls = target.split("#")[0];
  const head = [
    "[INFO] Scanning for projects...",
    "[INFO] ",
    "[INFO] -------------------------< dev.ledger:ledger-core >-------------------------",
    "[INFO] Building ledger-core 2.14.0-SNAPSHOT",
    "[INFO]   from pom.xml",
    "[INFO] --------------------------------[ jar ]---------------------------------",
    "[INFO] ",
    "[INFO] --- resources:3.3.1:resources (default-resources) @ ledger-core ---",
    "[INFO] --- compiler:3.13.0:compile (default-compile) @ ledger-core ---",
    `[INFO] Recompiling the module because of changed source code.`,
    `[INFO] Compiling ${r.int(40, 90)} source files with javac [debug release 21] to target/classes`,
    "[INFO] --- surefire:3.2.5:test (default-test) @ ledger-core ---",
    "[INFO] Using auto detected provider org.apache.maven.surefire.junitplatform.JUnitPlatformProvider",
    "[INFO] ",
    "[INFO] -------------------------------------------------------",
    "[INFO]  T E S T S",
    "[INFO] -------------------------------------------------------",
    `[INFO] Running dev.ledger.rate.${cls === "all" || cls === "ledger-core" ? "TokenBucketTest" : cls}`,
  ];
  const tail = [];
  const t = () => `${String(r.int(10, 23)).padStart(2, "0")}:${String(r.int(0, 59)).padStart(2, "0")}:${String(r.int(0, 59)).padStart(2, "0")}.${String(r.int(0, 999)).padStart(3, "0")}`;
  if (failures > 0) {
    tail.push(`[ERROR] Tests run: ${total}, Failures: ${failures}, Errors: 0, Skipped: 0, Time elapsed: ${(r.next() + 0.2).toFixed(3)} s <<< FAILURE! -- in dev.ledger.rate.TokenBucketTest`);
    for (let f = 0; f < failures; f++) {
      const m = r.pick(["refillNeverExceedsCapacityAfterClockJump", "concurrentAcquireNeverOverdraws", "refillAfterBackwardsClockStepIsZero", "burstIsCappedAtCapacity"]);
      tail.push(
        `[ERROR] dev.ledger.rate.TokenBucketTest.${m} -- Time elapsed: ${(r.next() / 10).toFixed(3)} s <<< FAILURE!`,
        `org.opentest4j.AssertionFailedError: expected: <100> but was: <${r.int(101, 190)}>`,
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)",
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.buildAndThrow(AssertionFailureBuilder.java:132)",
        "\tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)",
        "\tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:166)",
        "\tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:664)",
        `\tat dev.ledger.rate.TokenBucketTest.${m}(TokenBucketTest.java:${r.int(60, 240)})`,
        "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)",
        "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)",
        "",
      );
    }
    tail.push("[INFO] ", "[INFO] Results:", "[INFO] ", "[ERROR] Failures: ");
    tail.push(`[ERROR]   TokenBucketTest.refillNeverExceedsCapacityAfterClockJump:${r.int(60, 240)} expected: <100> but was: <${r.int(101, 190)}>`);
    tail.push("[INFO] ", `[ERROR] Tests run: ${total}, Failures: ${failures}, Errors: 0, Skipped: 0`, "[INFO] ",
      "[INFO] ------------------------------------------------------------------------",
      "[INFO] BUILD FAILURE",
      "[INFO] ------------------------------------------------------------------------",
      `[INFO] Total time:  ${(r.next() * 6 + 3).toFixed(3)} s`,
      "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test (default-test) on project ledger-core: There are test failures.");
  } else {
    tail.push(`[INFO] Tests run: ${total}, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: ${(r.next() + 0.2).toFixed(3)} s -- in dev.ledger.rate.TokenBucketTest`,
      "[INFO] ", "[INFO] Results:", "[INFO] ", `[INFO] Tests run: ${total}, Failures: 0, Errors: 0, Skipped: 0`, "[INFO] ",
      "[INFO] ------------------------------------------------------------------------",
      "[INFO] BUILD SUCCESS",
      "[INFO] ------------------------------------------------------------------------",
      `[INFO] Total time:  ${(r.next() * 6 + 3).toFixed(3)} s`);
  }
  const tailText = tail.join("\n");
  const logLine = () => `${t()} [${r.pick(["main", "pool-1-thread-1", "pool-1-thread-2", "pool-1-thread-3", "ForkJoinPool.commonPool-worker-1"])}] ${r.pick(["DEBUG", "DEBUG", "INFO", "WARN"])} dev.ledger.rate.${r.pick(["TokenBucket", "RateLimiter", "LimiterRegistry"])} - ${r.pick(LOGS).replace(/\{\}/g, () => String(r.int(1, 5_000_000)))}`;
  const body = sized(r, head, logLine, OUTPUT_MIN - tailText.length - 1, OUTPUT_MAX - tailText.length - 1);
  return body + "\n" + tailText;
}

function patchFor(r, path) {
  const ctx = javaMethod(r, classOf(path));
  const a = ctx.slice(0, 4), b = ctx.slice(4, 8), c = ctx.slice(8, 11);
  const removed = b.map((l) => "-" + l);
  const added = [
    "+        long now = clock.nanoTime();",
    "+        long elapsed = now - lastRefillNanos;",
    "+        if (elapsed <= 0) {",
    "+            // The clock did not advance (or stepped backwards): nothing to refill.",
    "+            return;",
    "+        }",
    "+        long refill = Math.multiplyHigh(elapsed, refillRate) == 0",
    "+                ? elapsed * refillRate / NANOS_PER_SECOND",
    "+                : capacity;",
    "+        tokens = Math.min(capacity, tokens + refill);",
    "+        lastRefillNanos = now;",
  ].slice(0, r.int(5, 11));
  return [
    "*** Begin Patch",
    `*** Update File: ${path}`,
    `@@ ${ctx[7]?.trim() ?? "class body"}`,
    ...a.map((l) => " " + l),
    ...removed,
    ...added,
    ...c.map((l) => " " + l),
    "*** End Patch",
  ].join("\n");
}

function patchOutput(r, path) {
  const start = r.int(40, 160);
  const lines = numbered(javaLines(r, path, 120).slice(start - 1), start);
  const head = ["Success. Updated the following files:", `M ${path}`, "", `Patched region of ${path}:`];
  return sized(r, [...head, ...lines], () => numbered(javaMethod(r, classOf(path)), start + lines.length).join("\n"), OUTPUT_MIN, OUTPUT_MAX);
}

// ---- the turn plan ----------------------------------------------------------------------
function plan(turns) {
  const open = [
    ["grep", { pattern: "class (TokenBucket|RateLimiter)\\b", path: "ledger-core", glob: "*.java" }],
    ["read_file", { path: FILES.TokenBucket }],
    ["read_file", { path: FILES.TokenBucketTest }],
    ["run_tests", { target: "TokenBucketTest#refillNeverExceedsCapacityAfterClockJump", extra_args: ["-Dsurefire.rerunFailingTestsCount=0"] }],
    ["grep", { pattern: "nanoTime\\(|currentTimeMillis\\(|Instant\\.now\\(", path: "ledger-core/src", glob: "*.java" }],
    ["read_file", { path: FILES.SystemClock }],
    ["read_file", { path: FILES.Clock }],
    ["read_file", { path: FILES.ManualClock }],
  ];
  const cycle = [
    ["apply_patch", FILES.TokenBucket],
    ["run_tests", { target: "TokenBucketTest" }],
    ["grep", { pattern: "lastRefillNanos|refill\\(", path: "ledger-core/src/main", glob: "*.java" }],
    ["read_file", { path: FILES.RateLimiter, start_line: 1 }],
    ["apply_patch", FILES.RateLimiter],
    ["run_tests", { target: "RateLimiterTest" }],
    ["read_file", { path: FILES.LimiterRegistry }],
    ["grep", { pattern: "new TokenBucket\\(", path: "ledger-core/src", glob: "*.java" }],
    ["read_file", { path: FILES.BucketStore, start_line: 1, end_line: 220 }],
    ["apply_patch", FILES.BucketStore],
    ["run_tests", { target: "TokenBucketTest", extra_args: ["-Dtest.repeat=50"] }],
    ["read_file", { path: FILES.RequestThrottleFilter }],
    ["read_file", { path: FILES.RateLimiterConfig }],
    ["apply_patch", FILES.MonotonicClock],
  ];
  const steps = open.slice(0, Math.max(0, turns - 1));
  for (let i = 0; steps.length < turns - 1; i++) steps.push(cycle[i % cycle.length]);
  steps.push(["run_tests", { target: "ledger-core" }]);
  return steps.slice(0, turns);
}

/**
 * Builds the trace. Same seed and turns -> byte-identical trace.
 * @returns {{seed:number, model:string, instructions:string, tools:object[], chatTools:object[],
 *   task:string, turns:{index:number, call:{call_id:string,name:string,arguments:string}, output:string}[], finalText:string}}
 */
export function buildTrace({ seed = DEFAULT_SEED, turns = DEFAULT_TURNS } = {}) {
  if (!Number.isInteger(turns) || turns < 1) throw new Error(`turns must be a positive integer, got ${turns}`);
  const r = rngFrom(seed);
  const steps = plan(turns);
  let testRuns = 0;
  const out = steps.map(([name, spec], index) => {
    let args, output;
    if (name === "apply_patch") {
      args = { patch: patchFor(r, spec) };
      output = patchOutput(r, spec);
    } else if (name === "read_file") {
      args = spec;
      output = readFileOutput(r, spec.path, spec.start_line);
    } else if (name === "grep") {
      args = spec;
      output = grepOutput(r, spec.pattern);
    } else {
      args = spec;
      testRuns++;
      const last = index === steps.length - 1;
      output = testOutput(r, spec.target, last ? 0 : testRuns < 4 ? r.int(1, 2) : r.chance(0.5) ? 1 : 0, last ? 212 : r.int(12, 40));
    }
    return { index, call: { call_id: `call_${r.hex(24)}`, name, arguments: JSON.stringify(args) }, output };
  });
  for (const t of out) {
    const n = Buffer.byteLength(t.output);
    if (n < OUTPUT_MIN || n > OUTPUT_MAX) throw new Error(`trace: turn ${t.index} (${t.call.name}) output is ${n} bytes, outside ${OUTPUT_MIN}-${OUTPUT_MAX}`);
  }
  const finalText = [
    "Fixed: the token bucket could hold more than its capacity after a clock step.",
    "",
    "**Root cause.** `TokenBucket.refill()` computed the refill from `System.currentTimeMillis()` deltas (wall-clock time) instead of the injected monotonic `Clock`, and clamped to capacity only in `tryAcquire`, not when storing the refilled value. After an NTP step forward the elapsed time was huge, the stored `tokens` overflowed the cap, and concurrent `tryAcquire` calls read the unclamped value between the refill and the clamp (the read-modify-write was not under the bucket lock). A backwards step produced a negative elapsed time that was later added back, which is the 1-in-20 flake in `refillNeverExceedsCapacityAfterClockJump`.",
    "",
    "**Changes.**",
    "- `ledger-core/.../rate/TokenBucket.java`: refill from `clock.nanoTime()`, ignore non-positive elapsed time, clamp to `capacity` when storing, and do refill + acquire under the bucket lock. Public API unchanged.",
    "- `ledger-core/.../rate/RateLimiter.java`: no longer reads `tokens` outside the lock when computing the retry-after hint.",
    "- `ledger-core/.../store/BucketStore.java`: restoring a snapshot clamps the stored token count to the current capacity (a lowered limit could otherwise restore an over-full bucket).",
    "- `ledger-core/.../clock/MonotonicClock.java`: documents and enforces non-decreasing `nanoTime()` across threads.",
    "",
    `**Verification.** \`TokenBucketTest\` passes, including 50 repetitions of the clock-jump test; \`RateLimiterTest\` passes; the whole \`ledger-core\` module passes (212 tests, 0 failures) in the final run. No tests were changed or disabled.`,
    "",
    "**Not changed.** `RequestThrottleFilter` still formats `Retry-After` in whole seconds (rounding up); that is existing behaviour, not part of this bug.",
  ].join("\n");
  return { seed, model: MODEL, instructions: INSTRUCTIONS, tools: TOOLS, chatTools: CHAT_TOOLS, task: TASK, turns: out, finalText };
}

// ---- the contexts each side must produce ------------------------------------------------------

/** The user message as a Responses input item. */
export const userItem = (trace) => ({ type: "message", role: "user", content: [{ type: "input_text", text: trace.task }] });
/** The function_call item a client replays in stateless mode (no server-assigned id, like Codex). */
export const callItem = (turn) => ({ type: "function_call", call_id: turn.call.call_id, name: turn.call.name, arguments: turn.call.arguments });
/** The function_call_output item the client sends after turn `turn`. */
export const outputItem = (turn) => ({ type: "function_call_output", call_id: turn.call.call_id, output: turn.output });

/** The full Responses `input` of request k (stateless mode): user message, then per earlier turn its call and output. */
export function fullInput(trace, k) {
  const items = [userItem(trace)];
  for (let i = 0; i < k; i++) items.push(callItem(trace.turns[i]), outputItem(trace.turns[i]));
  return items;
}

/** The Chat Completions `messages` of request k, as a gateway renders them. */
export function chatMessages(trace, k) {
  const m = [{ role: "system", content: trace.instructions }, { role: "user", content: trace.task }];
  for (let i = 0; i < k; i++) {
    const c = trace.turns[i].call;
    m.push({ role: "assistant", content: null, tool_calls: [{ id: c.call_id, type: "function", function: { name: c.name, arguments: c.arguments } }] });
    m.push({ role: "tool", tool_call_id: c.call_id, content: trace.turns[i].output });
  }
  return m;
}

// ---- CLI: summary --------------------------------------------------------------------------
if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const get = (k, d) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? Number(argv[i + 1]) : d; };
  const t = buildTrace({ seed: get("seed", DEFAULT_SEED), turns: get("turns", DEFAULT_TURNS) });
  const kb = (n) => (n / 1024).toFixed(1) + " KB";
  console.log(`seed ${t.seed}, ${t.turns.length} tool turns + final text`);
  console.log(`instructions ${kb(Buffer.byteLength(t.instructions))}, tools ${kb(Buffer.byteLength(JSON.stringify(t.tools)))}, task ${Buffer.byteLength(t.task)} B, final text ${Buffer.byteLength(t.finalText)} B`);
  let total = 0;
  for (const x of t.turns) {
    const o = Buffer.byteLength(x.output);
    total += o;
    console.log(`turn ${String(x.index).padStart(2)}  ${x.call.name.padEnd(11)} args ${String(x.call.arguments.length).padStart(5)} B  output ${kb(o).padStart(8)}`);
  }
  console.log(`tool outputs total ${kb(total)}; last request context ${kb(Buffer.byteLength(JSON.stringify(chatMessages(t, t.turns.length))))} of chat messages`);
}

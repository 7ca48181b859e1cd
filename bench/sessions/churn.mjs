// Presence churn: devices joining and leaving one session at `rate` joins+leaves per second for
// `duration` s (half opens, half closes: each churning device is closed a random time after it was
// opened, uniform in [0.2, 1.8] x `lifetime` ms, so the count wanders), while `stayers` devices
// stay connected and one observer device (a WebSocket) watches the presence entries of the
// participant. All devices are the same principal (open mode), so the truth is one number: how
// many of its connections are open.
//
// Usage: node churn.mjs --url URL --pid SERVER_PID [--transport ws|sse] [--rate 100]
//          [--duration 10] [--stayers 10] [--lifetime 500]
// Prints one JSON line (the result) on stdout; progress on stderr.
import { Device, call, cpuSeconds, emit, flags, machineBusySeconds, now, ownCpu, request, sleep, summary } from "./lib.mjs";

const f = flags();
const url = f.url;
const serverPid = Number(f.pid) || null;
const transport = f.transport ?? "ws";
const rate = Number(f.rate ?? 100);
const duration = Number(f.duration ?? 10);
const nStayers = Number(f.stayers ?? 10);
const lifetime = Number(f.lifetime ?? 500);
const log = (m) => process.stderr.write(`[churn ${transport}] ${m}\n`);
const result = { scenario: "churn", transport, target_rate: rate, duration, stayers: nStayers, lifetime_ms: lifetime };

// Lifetimes are uniform in [0.2, 1.8] x lifetime (a fixed-seed generator), so the count wanders.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const errors = {};
const errorSamples = [];
const noteError = (kind, detail) => {
  errors[kind] = (errors[kind] ?? 0) + 1;
  if (errorSamples.length < 5) errorSamples.push(`${kind}: ${detail}`);
};

// The truth as the client sees it: +1 when a device's subscription is confirmed, -1 when it is closed.
let truth = 0;
const truthLog = []; // [time, truth after the change]
const change = (d) => { truth += d; truthLog.push([now(), truth]); };
const truthAt = (t) => {
  let lo = 0, hi = truthLog.length - 1, v = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (truthLog[mid][0] <= t) { v = truthLog[mid][1]; lo = mid + 1; } else hi = mid - 1;
  }
  return v;
};

function open(kind, transportOf = transport) {
  return new Promise((resolve) => {
    const d = new Device(url, result.session, { transport: transportOf, offset: "now", resume: false, onError: (k, det) => {
      if (d.closing && (k === "dropped" || k === "ws_error" || k === "sse_error")) return;
      noteError(`${kind}:${k}`, det);
      if (!d.ready) resolve(d);
      if (d.ready && !d.closing && k === "dropped") { d.closing = true; change(-1); }
    } });
    d.onReady = () => { if (!d.closing) change(+1); resolve(d); };
    d.connect();
    setTimeout(() => resolve(d), 10000).unref();
  });
}

function closeDevice(d) {
  if (d.closing) return false;
  const wasReady = d.ready;
  d.close();
  if (wasReady) change(-1);
  return wasReady;
}

async function main() {
  const session = await call(url, "POST", "/v1/sessions", {});
  result.session = session.id;

  // ---- the observer ------------------------------------------------------------------
  const seen = []; // [arrival, devices, status]
  let observerStart = null;
  const observer = new Device(url, session.id, { transport: "ws", offset: "now", onError: noteError });
  observer.onEntry = (e, arrival) => {
    if (e.type === "presence" && e.key === "anonymous") seen.push([arrival, e.value.devices, e.value.status]);
  };
  await new Promise((res) => { observer.onReady = () => { observerStart = observer.offset; change(+1); res(); }; observer.connect(); });
  result.observer_recovered = observer.recovered;

  // ---- the stayers -------------------------------------------------------------------
  const stayers = await Promise.all(Array.from({ length: nStayers }, () => open("stayer")));
  await sleep(500);

  // ---- the churn ---------------------------------------------------------------------
  const interval = 2000 / rate; // one open every interval ms, and (after lifetime ms) one close
  const cpu0 = cpuSeconds(serverPid);
  const busy0 = machineBusySeconds();
  const own0 = ownCpu();
  const seenBefore = seen.length;
  const t0 = now();
  const churners = [];
  let opened = 0, openedReady = 0, closed = 0, closedBeforeReady = 0, openFailed = 0, openedInWindow = 0, closedInWindow = 0;
  const churnEndAt = t0 + duration * 1000;
  const openMs = [];
  const closes = [];
  let i = 0;
  while (now() < churnEndAt) {
    const due = t0 + i * interval;
    const wait = due - now();
    if (wait > 1) await sleep(wait - 0.5);
    i++;
    const started = now();
    opened++;
    const p = open("churn").then((d) => {
      if (d.ready) { openedReady++; openMs.push(now() - started); if (now() <= churnEndAt) openedInWindow++; } else if (!d.closing) openFailed++;
      return d;
    });
    churners.push(p);
    closes.push(sleep(lifetime * (0.2 + 1.6 * rand())).then(async () => {
      const d = await p;
      if (closeDevice(d)) { closed++; if (now() <= churnEndAt) closedInWindow++; } else closedBeforeReady++;
    }));
  }
  const churnEnd = now();
  await Promise.all(closes);
  const lastClose = now();
  const finalTruth = truth;
  // Convergence: the first presence entry after the last close that shows the true count.
  let converged = null;
  const deadline = now() + 5000;
  while (now() < deadline) {
    const hit = seen.find(([t, dev]) => t >= lastClose && dev === finalTruth);
    if (hit) { converged = hit[0] - lastClose; break; }
    await sleep(10);
  }
  await sleep(300);
  const cpu1 = cpuSeconds(serverPid);
  const busy1 = machineBusySeconds();
  const own1 = ownCpu();
  const wall = (now() - t0) / 1000;

  // ---- what the log holds, and the server's own view -----------------------------------
  const g = await request(url, "GET", `/v1/sessions/${session.id}/events?offset=${encodeURIComponent(observerStart)}`);
  const logged = JSON.parse(g.body).filter((e) => e.type === "presence" && e.key === "anonymous");
  const view = await call(url, "GET", `/v1/sessions/${session.id}`);
  const pres = (view.presence ?? []).find((p) => p.participant === "anonymous") ?? {};

  // ---- analysis --------------------------------------------------------------------------
  const inWindow = seen.filter(([t]) => t >= t0 && t <= lastClose);
  const gaps = [];
  for (let k = 1; k < inWindow.length; k++) gaps.push(inWindow[k][0] - inWindow[k - 1][0]);
  // Age of each presence entry: 0 if it shows the true count when it arrives, else how long ago
  // the true count last had the value it shows (null: not in the last 5 s, i.e. never true).
  const ages = [];
  let neverTrue = 0;
  for (const [t, dev] of inWindow) {
    let j = truthLog.length - 1;
    while (j >= 0 && truthLog[j][0] > t) j--;
    if (j >= 0 && truthLog[j][1] === dev) { ages.push(0); continue; }
    let found = null;
    for (let q = j - 1; q >= 0 && truthLog[q + 1][0] >= t - 5000; q--) {
      if (truthLog[q][1] === dev) { found = t - truthLog[q + 1][0]; break; }
    }
    if (found === null) neverTrue++; else ages.push(found);
  }
  // The observer's view (the devices of the last presence entry it got) against the truth, every 5 ms.
  let exact = 0, samples = 0, absSum = 0, absMax = 0, wrongSince = null, wrongLongest = 0;
  let si = 0, shown = null;
  for (let t = t0; t <= lastClose; t += 5) {
    while (si < seen.length && seen[si][0] <= t) shown = seen[si++][1];
    if (shown === null) continue;
    const err = Math.abs(shown - truthAt(t));
    samples++;
    absSum += err;
    absMax = Math.max(absMax, err);
    if (err === 0) { exact++; wrongSince = null; } else {
      if (wrongSince === null) wrongSince = t;
      wrongLongest = Math.max(wrongLongest, t - wrongSince);
    }
  }
  const obsLast = seen.length ? seen[seen.length - 1][1] : null;

  for (const d of stayers) closeDevice(d);
  observer.close();

  Object.assign(result, {
    opened, opened_ready: openedReady, open_failed: openFailed, closed, closed_before_ready: closedBeforeReady,
    achieved_rate: (openedInWindow + closedInWindow) / duration,
    opens_in_window: openedInWindow, closes_in_window: closedInWindow,
    churn_s: (churnEnd - t0) / 1000,
    open_ms: summary(openMs),
    errors, error_samples: errorSamples,
    error_count: Object.values(errors).reduce((a, b) => a + b, 0),
    presence_seen: seen.length - seenBefore,
    presence_seen_in_window: inWindow.length,
    presence_per_s: inWindow.length / ((lastClose - t0) / 1000),
    presence_logged_total: logged.length,
    presence_seen_total: seen.length,
    presence_gap_ms: summary(gaps),
    presence_age_ms: summary(ages),
    presence_never_true: neverTrue,
    view_exact_pct: samples ? (100 * exact) / samples : null,
    view_abs_error_mean: samples ? absSum / samples : null,
    view_abs_error_max: absMax,
    view_wrong_longest_ms: wrongLongest,
    truth_changes: truthLog.length,
    final_truth: finalTruth,
    observer_final_devices: obsLast,
    server_view_devices: pres.devices ?? null,
    server_view_status: pres.status ?? null,
    converged_ms: converged,
    server_cpu_s: cpu0 == null ? null : cpu1 - cpu0,
    client_cpu_s: own1 - own0,
    other_cpu_s: busy0 == null || cpu0 == null ? null : Math.max(0, busy1 - busy0 - (cpu1 - cpu0) - (own1 - own0)),
    phase_wall_s: wall,
  });
  log(`${openedReady} opens + ${closed} closes in ${result.churn_s.toFixed(1)} s (${result.achieved_rate.toFixed(0)}/s), ` +
    `${result.error_count} errors; presence entries ${result.presence_per_s.toFixed(1)}/s, age p99 ${result.presence_age_ms.p99?.toFixed(0)} ms, view exact ${result.view_exact_pct?.toFixed(0)}% of the time; ` +
    `final: truth ${finalTruth}, observer ${obsLast}, server view ${pres.devices}; server CPU ${result.server_cpu_s?.toFixed(2)} s`);
}

const hardStop = setTimeout(() => { log("ERROR: hard time limit"); result.error = "hard time limit"; emit(result); process.exit(1); },
  (duration + 120) * 1000);
main().then(() => { clearTimeout(hardStop); emit(result); setTimeout(() => process.exit(0), 200); },
  (e) => { log(`ERROR: ${e.stack ?? e}`); result.error = String(e.message ?? e).slice(0, 300); emit(result); process.exit(1); });

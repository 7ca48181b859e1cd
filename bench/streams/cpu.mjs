// CPU time over a measured window, for the node clients (sse-fanout.mjs, catchup.mjs):
// the server's (utime + stime of --server-pid from /proc/PID/stat, all its threads)
// and this client process's own (process.cpuUsage(): the load generator side).
// run.sh measures its wrk runs the same way in bash and writes the same shape:
//   server_cpu: { cpu_s, user_s, sys_s, wall_s, cores, jit_s }   (cores = cpu_s / wall_s;
//               jit_s: the JVM's C1/C2 compiler threads, null for a server without them)
//   load_cpu:   { cpu_s, wall_s, cores, what }
// Without --server-pid (or on a system without /proc) server_cpu is null.
import fs from "node:fs";
import { performance } from "node:perf_hooks";

/** {utime, stime} in clock ticks of process `pid`, or null if it cannot be read. */
export function procTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may itself contain spaces or ')':
    // the fields after the last ')' start with field 3 (state).
    const f = s.slice(s.lastIndexOf(")") + 1).trim().split(/\s+/);
    const utime = Number(f[14 - 3]), stime = Number(f[15 - 3]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? { utime, stime } : null;
  } catch {
    return null;
  }
}

/**
 * utime + stime in clock ticks of the JIT compiler threads of process `pid` (the JVM's
 * "C1 CompilerThread"/"C2 CompilerThread"), or null when it has none (Node's V8 compiles on
 * threads it shares with other work, so it cannot be told apart there).
 */
export function jitTicks(pid) {
  let ticks = null;
  let tasks;
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return null; }
  for (const t of tasks) {
    try {
      if (!/^C[12] CompilerThre/.test(fs.readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8"))) continue;
      const s = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 1).trim().split(/\s+/);
      ticks = (ticks ?? 0) + Number(f[14 - 3]) + Number(f[15 - 3]);
    } catch { /* the thread ended */ }
  }
  return ticks;
}

/**
 * The running time in nanoseconds of each live thread of process `pid`, from
 * /proc/PID/task/TID/schedstat (its first field), finer than the clock ticks of
 * /proc/PID/stat: a Map TID → { ns, jit } (jit: a JVM C1/C2 compiler thread), or null if
 * it cannot be read. Compare two readings with threadNanosBetween.
 */
export function threadNanos(pid) {
  let tasks;
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return null; }
  const threads = new Map();
  for (const t of tasks) {
    try {
      const ns = Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      if (!Number.isFinite(ns)) continue;
      const jit = /^C[12] CompilerThre/.test(fs.readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8"));
      threads.set(t, { ns, jit });
    } catch { /* the thread ended */ }
  }
  return threads;
}

/**
 * CPU in ns between two threadNanos readings, in all and in the JIT compiler threads (jit:
 * null when there are none): per thread, so a thread that ends in between (the JVM retires
 * idle compiler threads) loses only its time inside the window, not all it ever ran.
 */
export function threadNanosBetween(before, after) {
  let total = 0, jit = null;
  for (const [tid, t] of after) {
    const d = t.ns - (before.get(tid)?.ns ?? 0);
    total += d;
    if (t.jit) jit = (jit ?? 0) + d;
  }
  return { total, jit };
}

/**
 * A CPU window from the flags --server-pid PID and --clk-tck HZ (getconf CLK_TCK).
 * Call begin() right before the measured work and end() right after it; end()
 * returns { server_cpu, load_cpu }.
 */
export function cpuWindow(f, what) {
  const pid = f["server-pid"] ? Number(f["server-pid"]) : null;
  const hz = Number(f["clk-tck"] ?? 100);
  let t0, s0, c0, j0;
  return {
    begin() {
      s0 = pid ? procTicks(pid) : null;
      j0 = pid ? jitTicks(pid) : null;
      c0 = process.cpuUsage();
      t0 = performance.now();
    },
    end() {
      if (t0 === undefined) return { server_cpu: null, load_cpu: null }; // begin() never ran
      const wall = (performance.now() - t0) / 1000;
      const s1 = pid ? procTicks(pid) : null;
      const j1 = pid ? jitTicks(pid) : null;
      const c = process.cpuUsage(c0);
      let server = null;
      if (s0 && s1 && wall > 0) {
        const user = (s1.utime - s0.utime) / hz, sys = (s1.stime - s0.stime) / hz;
        const cpu = (s1.utime - s0.utime + s1.stime - s0.stime) / hz;
        const jit = j0 != null && j1 != null ? (j1 - j0) / hz : null;
        server = { cpu_s: cpu, user_s: user, sys_s: sys, wall_s: wall, cores: cpu / wall, jit_s: jit };
      }
      const load = (c.user + c.system) / 1e6;
      return { server_cpu: server, load_cpu: { cpu_s: load, wall_s: wall, cores: wall > 0 ? load / wall : null, what } };
    },
  };
}

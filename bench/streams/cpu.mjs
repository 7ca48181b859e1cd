// CPU time over a measured window, for the node clients (sse-fanout.mjs, catchup.mjs):
// the server's (utime + stime of --server-pid from /proc/PID/stat, all its threads)
// and this client process's own (process.cpuUsage(): the load generator side).
// run.sh measures its wrk runs the same way in bash and writes the same shape:
//   server_cpu: { cpu_s, user_s, sys_s, wall_s, cores }   (cores = cpu_s / wall_s)
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
 * A CPU window from the flags --server-pid PID and --clk-tck HZ (getconf CLK_TCK).
 * Call begin() right before the measured work and end() right after it; end()
 * returns { server_cpu, load_cpu }.
 */
export function cpuWindow(f, what) {
  const pid = f["server-pid"] ? Number(f["server-pid"]) : null;
  const hz = Number(f["clk-tck"] ?? 100);
  let t0, s0, c0;
  return {
    begin() {
      s0 = pid ? procTicks(pid) : null;
      c0 = process.cpuUsage();
      t0 = performance.now();
    },
    end() {
      if (t0 === undefined) return { server_cpu: null, load_cpu: null }; // begin() never ran
      const wall = (performance.now() - t0) / 1000;
      const s1 = pid ? procTicks(pid) : null;
      const c = process.cpuUsage(c0);
      let server = null;
      if (s0 && s1 && wall > 0) {
        const user = (s1.utime - s0.utime) / hz, sys = (s1.stime - s0.stime) / hz;
        const cpu = (s1.utime - s0.utime + s1.stime - s0.stime) / hz;
        server = { cpu_s: cpu, user_s: user, sys_s: sys, wall_s: wall, cores: cpu / wall };
      }
      const load = (c.user + c.system) / 1e6;
      return { server_cpu: server, load_cpu: { cpu_s: load, wall_s: wall, cores: wall > 0 ? load / wall : null, what } };
    },
  };
}

package dev.tether.fuzz;

import dev.tether.testing.ServerProcess;
import dev.tether.testing.TestModels;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The standalone fuzz campaign ({@code bench/fuzz/run.sh}): against a running server
 * ({@code --url}) or against its own child server (the tiny random-weight model, so Responses
 * requests really generate; 1 MiB body limit; 500 ms long-poll). Prints the counts and every
 * distinct failure with a replay command; exits 1 when anything failed.
 */
public final class FuzzMain {
    private FuzzMain() {}

    private static final String USAGE =
            """
            usage: bench/fuzz/run.sh [options]
              --cases N            cases at most (default 5000)
              --seconds S          time budget; no new case starts after it (default 300)
              --seed X             campaign seed (default 1); a case is named by seed + area:index
              --only AREA:INDEX    replay one case (e.g. --only streams:17)
              --areas A,B          only these areas: streams,responses,conversations,raw,websocket
              --url URL            fuzz a running server instead of starting one
              --token T            send Authorization: Bearer T (default: $TETHER_FUZZ_TOKEN)
              --long-poll-ms MS    the server's --long-poll-timeout (with --url; default 30000)
              --upstream           an upstream is configured: allow 502/504 on the Responses API
              --no-backend         no model backend: allow 503 no_backend on the Responses API
              --http-ms MS         deadline of an ordinary request (default 10000)
              --generate-ms MS     deadline of a request that generates (default 30000)
              --protocol-ms MS     deadline for a WebSocket close or pong (default 3000)
              --server-arg ARG     extra argument for the server this runner starts (repeatable)
            """;

    public static void main(String[] args) throws Exception {
        long seed = 1;
        int cases = 5000;
        long seconds = 300;
        String only = null;
        List<Area> areas = List.of(Area.values());
        URI url = null;
        String token = System.getenv("TETHER_FUZZ_TOKEN");
        long longPoll = 30_000;
        boolean upstream = false;
        boolean noBackend = false;
        long httpMs = 10_000;
        long generateMs = 30_000;
        long protocolMs = 3_000;
        List<String> serverArgs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (flag.equals("--help") || flag.equals("-h")) {
                System.out.print(USAGE);
                return;
            }
            if (flag.equals("--upstream") || flag.equals("--no-backend")) {
                upstream |= flag.equals("--upstream");
                noBackend |= flag.equals("--no-backend");
                continue;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(flag + " needs a value\n" + USAGE);
            }
            String v = args[++i];
            switch (flag) {
                case "--cases" -> cases = Integer.parseInt(v);
                case "--seconds" -> seconds = Long.parseLong(v);
                case "--seed" -> seed = Long.parseLong(v);
                case "--only" -> only = v;
                case "--areas" ->
                    areas = Arrays.stream(v.split(",")).map(Area::parse).toList();
                case "--url" -> url = URI.create(v);
                case "--token" -> token = v;
                case "--long-poll-ms" -> longPoll = Long.parseLong(v);
                case "--http-ms" -> httpMs = Long.parseLong(v);
                case "--generate-ms" -> generateMs = Long.parseLong(v);
                case "--protocol-ms" -> protocolMs = Long.parseLong(v);
                case "--server-arg" -> serverArgs.add(v);
                default -> throw new IllegalArgumentException("unknown option " + flag + "\n" + USAGE);
            }
        }
        Campaign.Settings settings =
                new Campaign.Settings(seed, cases, seconds * 1000, areas, null, httpMs, generateMs, protocolMs, 50);
        if (only != null) {
            String[] p = only.split(":");
            settings = settings.only(new CaseId(seed, Area.parse(p[0]), Integer.parseInt(p[1])));
        }
        int exit;
        if (url != null) {
            Target target = new Target(url.getHost(), port(url), token, longPoll, upstream, noBackend);
            exit = run(target, settings, url.toString());
        } else {
            exit = runOwnServer(settings, token, serverArgs, upstream, noBackend);
        }
        System.exit(exit);
    }

    private static int port(URI url) {
        return url.getPort() > 0 ? url.getPort() : url.getScheme().equals("https") ? 443 : 80;
    }

    private static int runOwnServer(
            Campaign.Settings settings, String token, List<String> extra, boolean upstream, boolean noBackend)
            throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("tether-fuzz-");
        List<String> args = new ArrayList<>(
                List.of("--model", TestModels.tiny().toString(), "--context", "256", "--max-body", "1MiB"));
        args.addAll(extra);
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), args.toArray(String[]::new))) {
            Target target = new Target("127.0.0.1", server.port(), token, 500, upstream, noBackend);
            int exit = run(
                    target,
                    settings,
                    target + " (own server: tiny model, --context 256, --max-body 1MiB"
                            + (extra.isEmpty() ? "" : ", " + String.join(" ", extra)) + ")");
            String log = server.output();
            long lines = log.lines().count();
            long traces = log.lines()
                    .filter(l -> l.contains("Exception") || l.startsWith("\tat "))
                    .count();
            System.out.println("server log: " + lines + " lines, " + traces
                    + " of them exception or stack-frame lines (" + server.log() + ")");
            if (!server.isAlive()) {
                System.out.println("the server process died during the campaign");
                exit = 1;
            }
            return exit;
        } finally {
            deleteTree(dir.resolve("data")); // the log, next to it, stays for reading
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static int run(Target target, Campaign.Settings settings, String against) {
        Tally tally = new Campaign(target, settings, System.out).run();
        System.out.println(tally.summary(against));
        if (tally.failingCaseCount() > 0) {
            System.out.println("failing cases:");
            System.out.print(tally.failingCaseLines(500));
        }
        return tally.failingCaseCount() == 0 ? 0 : 1;
    }
}

package dev.tether.fuzz;

import dev.tether.fuzz.Failure.Category;
import dev.tether.fuzz.FuzzCase.RawExpect;
import dev.tether.fuzz.RawHttp.Exchange;
import dev.tether.fuzz.RawHttp.SsePolicy;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A fuzz run: sets up fixtures, generates cases area by area (interleaved by weight, so a run
 * cut short by its time budget still covers every area), sends them one at a time, judges each,
 * and checks {@code /health} after every batch. Sequential on purpose: a failure belongs to
 * exactly one case, and a case replays alone.
 *
 * <p>Not thread-safe; run once.
 */
public final class Campaign {
    /**
     * @param seed            the campaign seed (with area and index, it names every case)
     * @param cases           how many cases at most
     * @param budgetMillis    stop starting cases after this long (0: no limit)
     * @param areas           the areas to cover
     * @param only            run just this case (replay), or null
     * @param httpMillis      deadline of an ordinary request
     * @param generateMillis  deadline of a request that makes the model generate (or streams its events)
     * @param protocolMillis  how long a WebSocket violation may take to be closed (or a ping answered)
     * @param batch           cases between two health checks
     */
    public record Settings(
            long seed,
            int cases,
            long budgetMillis,
            List<Area> areas,
            CaseId only,
            long httpMillis,
            long generateMillis,
            long protocolMillis,
            int batch) {
        public Settings {
            areas = List.copyOf(areas);
        }

        public static Settings of(long seed, int cases) {
            return new Settings(seed, cases, 0, List.of(Area.values()), null, 10_000, 30_000, 3_000, 50);
        }

        public Settings withAreas(List<Area> value) {
            return new Settings(
                    seed, cases, budgetMillis, value, only, httpMillis, generateMillis, protocolMillis, batch);
        }

        public Settings withDeadlines(long http, long generate, long protocol) {
            return new Settings(seed, cases, budgetMillis, areas, only, http, generate, protocol, batch);
        }

        public Settings withBudget(long millis) {
            return new Settings(seed, cases, millis, areas, only, httpMillis, generateMillis, protocolMillis, batch);
        }

        public Settings only(CaseId id) {
            return new Settings(
                    seed, 1, budgetMillis, List.of(id.area()), id, httpMillis, generateMillis, protocolMillis, batch);
        }
    }

    private final Target target;
    private final Settings settings;
    private final PrintStream log;
    private final Oracle oracle;
    private Fixtures fixtures;

    public Campaign(Target target, Settings settings, PrintStream log) {
        this.target = target;
        this.settings = settings;
        this.log = log;
        this.oracle = new Oracle(target);
        Text.redact(target.token());
    }

    public Tally run() {
        Tally tally = new Tally(settings.seed());
        long start = System.nanoTime();
        fixtures = new FixtureSetup(target, settings.seed(), log).create();
        if (settings.only() != null) {
            FuzzCase c = generate(settings.only());
            log.println("replaying " + c.id() + " (" + c.kind() + "):\n    " + c.describe(20_000));
            long t0 = System.nanoTime();
            tally.record(c, execute(c), elapsedMillis(t0));
            health(tally, "after " + c.id());
            tally.elapsed(elapsedMillis(start));
            return tally;
        }
        Map<Area, Integer> next = new EnumMap<>(Area.class);
        Map<Area, Integer> credit = new EnumMap<>(Area.class);
        int total = settings.areas().stream().mapToInt(a -> a.weight).sum();
        for (int i = 0; i < settings.cases(); i++) {
            if (settings.budgetMillis() > 0 && elapsedMillis(start) > settings.budgetMillis()) {
                tally.note("time budget of " + settings.budgetMillis() / 1000 + " s reached after " + i + " cases");
                break;
            }
            Area area = pickArea(credit, total);
            int index = next.merge(area, 1, Integer::sum) - 1;
            FuzzCase c = generate(new CaseId(settings.seed(), area, index));
            long t0 = System.nanoTime();
            tally.record(c, execute(c), elapsedMillis(t0));
            if ((i + 1) % settings.batch() == 0) {
                if (!health(tally, "after " + (i + 1) + " cases")) {
                    tally.note("stopped: the server is down after " + (i + 1) + " cases");
                    break;
                }
                if ((i + 1) % (settings.batch() * 10) == 0) {
                    log.printf(
                            "[fuzz] %d cases, %d failing, %.0f s%n",
                            i + 1, tally.failingCaseCount(), elapsedMillis(start) / 1000.0);
                }
            }
        }
        health(tally, "at the end");
        tally.elapsed(elapsedMillis(start));
        return tally;
    }

    /** Smooth weighted round-robin: deterministic, and every prefix of the run is proportional. */
    private Area pickArea(Map<Area, Integer> credit, int total) {
        Area best = null;
        for (Area a : settings.areas()) {
            int c = credit.merge(a, a.weight, Integer::sum);
            if (best == null || c > credit.get(best)) {
                best = a;
            }
        }
        credit.merge(best, -total, Integer::sum);
        return best;
    }

    private FuzzCase generate(CaseId id) {
        return generate(id, target, fixtures);
    }

    /** The case named by {@code id}: a function of the id, the target's address and the fixtures only. */
    static FuzzCase generate(CaseId id, Target target, Fixtures fixtures) {
        Dice d = new Dice(id.caseSeed());
        return switch (id.area()) {
            case STREAMS -> StreamCases.generate(id, fixtures, d);
            case RESPONSES -> ResponsesCases.responses(id, fixtures, d);
            case CONVERSATIONS -> ResponsesCases.conversations(id, fixtures, d);
            case RAW -> RawCases.generate(id, target, fixtures, d);
            case WEBSOCKET -> SocketCases.generate(id, target, fixtures, d);
        };
    }

    List<Failure> execute(FuzzCase c) {
        return switch (c) {
            case FuzzCase.Http h -> {
                String path = pathOf(h.target());
                boolean streamRead = path.startsWith("/v1/stream/");
                Exchange x = RawHttp.exchange(
                        target.host(),
                        target.port(),
                        RawHttp.request(h, target.hostHeader(), target.token()),
                        false,
                        List.of(h.method()),
                        1,
                        deadline(h, path),
                        streamRead ? SsePolicy.FIRST_EVENT : SsePolicy.TO_END);
                yield withDetail(c, x, oracle.judge(c, path, x, new RawExpect(1, List.of(), false)));
            }
            case FuzzCase.Raw r -> {
                Exchange x = RawHttp.exchange(
                        target.host(),
                        target.port(),
                        r.bytes(),
                        r.halfClose(),
                        r.methods(),
                        r.expect().answers(),
                        settings.httpMillis(),
                        SsePolicy.FIRST_EVENT);
                yield withDetail(c, x, oracle.judge(c, null, x, r.expect()));
            }
            case FuzzCase.Socket s ->
                new WsSession(target, s, settings.generateMillis(), settings.protocolMillis()).run();
        };
    }

    /** Judgements carry the whole exchange as their detail, so a report shows what the server did. */
    private static List<Failure> withDetail(FuzzCase c, Exchange x, List<Failure> failures) {
        List<Failure> out = new ArrayList<>();
        for (Failure f : failures) {
            out.add(new Failure(f.category(), f.signature(), x.toString()));
        }
        return out;
    }

    private long deadline(FuzzCase.Http h, String path) {
        if (h.target().contains("live=long-poll") || h.target().contains("live=sse")) {
            // a live read at the tail legitimately waits up to the long-poll timeout for its first byte
            return target.longPollMillis() + settings.httpMillis();
        }
        boolean model = path.startsWith("/v1/responses") || path.startsWith("/v1/conversations");
        return model ? settings.generateMillis() : settings.httpMillis();
    }

    static String pathOf(String requestTarget) {
        int q = requestTarget.indexOf('?');
        return q < 0 ? requestTarget : requestTarget.substring(0, q);
    }

    /** {@code GET /health} must answer 200 quickly; false if the server no longer accepts connections. */
    private boolean health(Tally tally, String when) {
        byte[] req = Text.latin1(
                "GET /health HTTP/1.1\r\nHost: " + target.hostHeader() + "\r\n" + target.authLine() + "\r\n");
        Exchange x =
                RawHttp.exchange(target.host(), target.port(), req, false, List.of("GET"), 1, 2_000, SsePolicy.TO_END);
        RawHttp.Answer a = x.first();
        if (a != null && a.status() == 200) {
            return true;
        }
        boolean down = a == null && x.note() != null && x.note().startsWith("connect");
        tally.recordGlobal(
                Oracle.fail(
                        down ? Category.DOWN : Category.HEALTH,
                        "-",
                        down
                                ? "connection refused"
                                : a == null
                                        ? x.ending().name().toLowerCase(java.util.Locale.ROOT)
                                        : "status " + a.status(),
                        when + ": " + x),
                when);
        log.println("health check " + when + ": " + x);
        return !down;
    }

    private static long elapsedMillis(long start) {
        return (System.nanoTime() - start) / 1_000_000L;
    }
}

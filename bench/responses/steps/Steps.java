import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Two steps of a gateway turn, timed on one thread in a warmed-up JVM against the server's own
 * classes (whichever build is on the classpath; package-private ones reached by reflection):
 *
 * <ul>
 *   <li>{@code events}: the Response object of a run's three events that echo the request
 *       ({@code response.created}, {@code response.in_progress}, the terminal one) rendered and
 *       serialized, for the bench trace's instructions (7.7 kB) and tools (2.9 kB). {@code plain}
 *       renders the echoed fields in each event; {@code echo} (builds that have it) serializes
 *       them once per run.
 *   <li>{@code chunks}: the upstream's answers read by {@code ChunkReader} (every {@code data:}
 *       line of the trace's 25 answers, 83 a turn on average), with a sink that keeps nothing.
 * </ul>
 *
 * <p>{@code java -cp SERVER_CLASSPATH Steps.java inputs.json [seconds]}: prints, per step, the
 * median over timed windows of the time per turn.
 */
public class Steps {
    public static void main(String[] args) throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode in = json.readTree(Files.readAllBytes(Path.of(args[0])));
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 20;

        ObjectNode request = json.createObjectNode();
        request.put("model", in.get("model").asText());
        request.put("input", "Fix the rate limiter.");
        request.put("instructions", in.get("instructions").asText());
        request.set("tools", in.get("tools"));
        request.put("store", false);
        Object params = Class.forName("dev.tether.responses.ParamsParser")
                .getMethod("parse", JsonNode.class)
                .invoke(null, request);
        Class<?> recordType = Class.forName("dev.tether.responses.ResponseRecord");
        Class<?> chain = Class.forName("dev.tether.responses.Chain");
        Class<?> status = Class.forName("dev.tether.responses.ResponseStatus");
        Constructor<?> make = recordType.getConstructors()[0];
        Object record = make.newInstance(
                "resp_1", 1L, params, "resp_1", chain.getField("EMPTY").get(null),
                params.getClass().getMethod("input").invoke(params), List.of(),
                status.getMethod("valueOf", String.class).invoke(null, "IN_PROGRESS"), null, null, null, null, "anonymous");
        Class<?> responseJson = Class.forName("dev.tether.responses.ResponseJson");
        Method render = responseJson.getDeclaredMethod("render", recordType);
        render.setAccessible(true);
        Method bytes = Class.forName("dev.tether.responses.Json").getMethod("bytes", JsonNode.class);
        Method echoOf = null;
        Method renderEcho = null;
        for (Class<?> c : responseJson.getDeclaredClasses()) {
            if (c.getSimpleName().equals("Echo")) {
                echoOf = c.getDeclaredMethod("of", params.getClass());
                echoOf.setAccessible(true);
                renderEcho = responseJson.getDeclaredMethod("render", recordType, c);
                renderEcho.setAccessible(true);
            }
        }

        List<Step> steps = new ArrayList<>();
        steps.add(new Step("events, plain", 1, () -> {
            long n = 0;
            for (int i = 0; i < 3; i++) {
                n += ((byte[]) bytes.invoke(null, render.invoke(null, record))).length;
            }
            return n;
        }));
        if (echoOf != null) {
            Method of = echoOf;
            Method with = renderEcho;
            steps.add(new Step("events, echo", 1, () -> {
                Object echo = of.invoke(null, params);
                long n = 0;
                for (int i = 0; i < 3; i++) {
                    n += ((byte[]) bytes.invoke(null, with.invoke(null, record, echo))).length;
                }
                return n;
            }));
        }

        Class<?> sinkType = Class.forName("dev.tether.inference.ModelSink");
        Object sink = java.lang.reflect.Proxy.newProxyInstance(
                Steps.class.getClassLoader(), new Class<?>[] {sinkType}, (proxy, method, a) -> method.isDefault()
                        ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, a)
                        : null);
        Class<?> readerType = Class.forName("dev.tether.inference.upstream.ChunkReader");
        Constructor<?> newReader = readerType.getDeclaredConstructor(sinkType, String.class);
        newReader.setAccessible(true);
        Method line;
        boolean asBytes;
        try {
            line = readerType.getDeclaredMethod("line", byte[].class);
            asBytes = true;
        } catch (NoSuchMethodException e) {
            line = readerType.getDeclaredMethod("line", String.class);
            asBytes = false;
        }
        line.setAccessible(true);
        Method ended = readerType.getDeclaredMethod("ended", java.io.IOException.class);
        ended.setAccessible(true);
        List<List<Object>> answers = new ArrayList<>();
        for (JsonNode a : in.get("answers")) {
            List<Object> ls = new ArrayList<>();
            for (JsonNode l : a) {
                ls.add(l.asText().getBytes(StandardCharsets.UTF_8));
            }
            answers.add(ls);
        }
        Method lineOf = line;
        // each line from the bytes that arrived, as the server takes it: copied out of the buffer,
        // or decoded to a String (builds before the streaming parser)
        boolean decode = !asBytes;
        steps.add(new Step(asBytes ? "chunks, from bytes" : "chunks, from Strings", answers.size(), () -> {
            long n = 0;
            for (List<Object> a : answers) {
                Object reader = newReader.newInstance(sink, "u");
                for (Object l : a) {
                    byte[] b = (byte[]) l;
                    lineOf.invoke(reader, decode ? new String(b, StandardCharsets.UTF_8) : b.clone());
                    n++;
                }
                ended.invoke(reader, (Object) null);
            }
            return n / answers.size();
        }));

        for (Step s : steps) {
            s.run(seconds);
        }
    }

    interface Work {
        long run() throws Exception;
    }

    /** A step, whose work covers {@code turns} turns: warmed up for half the time, then timed in windows of half a second. */
    record Step(String name, int turns, Work work) {
        void run(int seconds) throws Exception {
            long sink = 0;
            long warm = System.nanoTime() + seconds * 500_000_000L;
            while (System.nanoTime() < warm) {
                sink += work.run();
            }
            List<Double> perTurn = new ArrayList<>();
            long end = System.nanoTime() + seconds * 500_000_000L;
            while (System.nanoTime() < end) {
                long t0 = System.nanoTime();
                long k = 0;
                while (System.nanoTime() - t0 < 500_000_000L) {
                    sink += work.run();
                    k++;
                }
                perTurn.add((System.nanoTime() - t0) / 1000.0 / ((double) k * turns));
            }
            double[] v = perTurn.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            System.out.printf(
                    "%-22s %8.2f us a turn (median of %d windows; min %.2f, max %.2f) [%d]%n",
                    name, v[v.length / 2], v.length, v[0], v[v.length - 1], sink % 10);
        }
    }
}

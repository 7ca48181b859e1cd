package dev.tether.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.testing.AuthFixture;
import dev.tether.testing.SessionClient;
import dev.tether.testing.SessionClient.Live;
import dev.tether.testing.TestServer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Leased presence (devices counted, an ungraceful disconnect shows offline within the timeout, a
 * killed agent's run fails) and capabilities per operation.
 */
class PresenceAndAccessTest {
    @TempDir
    static Path dir;

    static TestServer server;
    static AuthFixture auth;
    static SessionClient admin;
    static SessionClient alice;
    static SessionClient bot;

    @BeforeAll
    static void start() throws Exception {
        auth = AuthFixture.create(dir.resolve("auth"));
        server = TestServer.start(dir.resolve("data"), b -> b.authConfig(auth.config()));
        admin = new SessionClient(server, AuthFixture.BACKEND);
        alice = new SessionClient(
                server,
                auth.token("HS256", "alice", "{\"sessions/*\": [\"read\", \"join\", \"publish\", \"cancel\"]}"));
        bot = new SessionClient(
                server, auth.token("HS256", "bot", "{\"sessions/*\": [\"read\", \"join\", \"publish\"]}"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static JsonNode presence(SessionClient c, String id, String who) throws Exception {
        return c.latest(id, "presence", who);
    }

    @Test
    void devicesAreCountedAndAKilledDeviceGoesOfflineWithinTheTimeout() throws Exception {
        String id = admin.create("{\"policy\":{\"presence_timeout_ms\":500}}");
        Live phone = alice.sse(id, "-1");
        Live laptop = alice.ws(id, "-1", new CopyOnWriteArrayList<>());
        alice.awaitLog(
                id,
                e -> e.path("key").asText().equals("alice")
                        && e.path("type").asText().equals("presence")
                        && e.path("value").path("devices").asInt() == 2);
        assertEquals("online", presence(alice, id, "alice").path("status").asText());
        phone.kill();
        alice.awaitLog(
                id,
                e -> e.path("key").asText().equals("alice")
                        && e.path("value").path("devices").asInt() == 1);
        assertEquals("online", presence(alice, id, "alice").path("status").asText(), "one device is still live");
        long killed = System.nanoTime();
        laptop.kill();
        alice.awaitLog(
                id,
                e -> e.path("key").asText().equals("alice")
                        && e.path("value").path("status").asText().equals("offline"));
        long millis = (System.nanoTime() - killed) / 1_000_000;
        assertTrue(millis <= 500 + 1000, "offline within presence_timeout_ms + 1 s, took " + millis + " ms");
        JsonNode view = alice.get("/v1/sessions/" + id).body();
        assertEquals(0, view.path("watching_devices").asInt(), "the session knows it streams to nobody");
    }

    @Test
    void aKilledAgentShowsCrashedAndItsRunFailsAgentLost() throws Exception {
        String id = admin.create("{\"policy\":{\"presence_timeout_ms\":400}}");
        assertEquals(
                201,
                bot.post("/v1/sessions/" + id + "/participants", "{\"role\":\"agent\"}")
                        .status());
        Live agentSocket = bot.ws(id, "now", new CopyOnWriteArrayList<>());
        String msg = alice.post("/v1/sessions/" + id + "/messages", "{\"content\":\"hi\"}")
                .body()
                .path("message")
                .path("id")
                .asText();
        String run = bot.post("/v1/sessions/" + id + "/runs", "{\"trigger\":\"" + msg + "\"}")
                .text("id");
        assertEquals(
                200,
                bot.post("/v1/sessions/" + id + "/runs/" + run + "/chunks", "{\"delta\":\"partial\"}")
                        .status());
        agentSocket.kill();
        List<JsonNode> log = alice.awaitLog(
                id,
                e -> e.path("key").asText().equals(run)
                        && e.path("value").path("status").asText().equals("failed"));
        JsonNode failed = SessionClient.fold(log).get("run/" + run);
        assertEquals("agent_lost", failed.path("error").path("code").asText());
        assertEquals("partial", failed.path("text").asText(), "the text so far is kept");
        assertEquals("crashed", presence(alice, id, "bot").path("agent_status").asText());
        assertEquals("offline", presence(alice, id, "bot").path("status").asText());
    }

    @Test
    void anAgentThatLeavesMidRunFailsItsRun() throws Exception {
        String id = admin.create("{}");
        assertEquals(
                201,
                bot.post("/v1/sessions/" + id + "/participants", "{\"role\":\"agent\"}")
                        .status());
        String run = bot.post("/v1/sessions/" + id + "/runs", "{}").text("id");
        assertEquals(200, bot.delete("/v1/sessions/" + id + "/participants/bot").status());
        JsonNode r = alice
                .awaitLog(
                        id,
                        e -> e.path("key").asText().equals(run)
                                && e.path("value").path("status").asText().equals("failed"))
                .stream()
                .filter(e -> e.path("key").asText().equals(run))
                .reduce((a, b) -> b)
                .orElseThrow();
        assertEquals("agent_lost", r.path("value").path("error").path("code").asText());
    }

    @Test
    void aSessionLogCannotBeForkedOutOfItsCapabilities() throws Exception {
        String id = admin.create("{}");
        var fork = admin.send("PUT", "/v1/stream/copies/" + id, "Stream-Forked-From", "/v1/stream/sessions/" + id);
        assertEquals(403, fork.status(), "a fork would escape the session's capabilities: " + fork.raw());
    }

    @Test
    void heartbeatsKeepAnAgentWithoutAConnectionOnline() throws Exception {
        String id = admin.create("{\"policy\":{\"presence_timeout_ms\":300}}");
        assertEquals(
                201,
                bot.post("/v1/sessions/" + id + "/participants", "{\"role\":\"agent\"}")
                        .status());
        String run = bot.post("/v1/sessions/" + id + "/runs", "{}").text("id");
        for (int i = 0; i < 8; i++) {
            Thread.sleep(100);
            assertEquals(
                    200,
                    bot.post("/v1/sessions/" + id + "/presence", "{\"agent_status\":\"streaming\"}")
                            .status());
        }
        assertEquals(
                "running",
                alice.latest(id, "run", run).path("status").asText(),
                "heartbeats renewed the lease for longer than the timeout");
    }

    @Test
    void capabilitiesAreEnforcedPerOperation() throws Exception {
        String mine = admin.create("{}");
        String other = admin.create("{}");
        SessionClient scoped = new SessionClient(
                server, auth.token("HS256", "carol", "{\"sessions/" + mine + "\": [\"read\", \"join\", \"publish\"]}"));
        assertEquals(200, scoped.get("/v1/sessions/" + mine).status());
        assertEquals(403, scoped.get("/v1/sessions/" + other).status(), "a token for one session cannot read another");
        var listed = scoped.get("/v1/sessions?expand=view");
        assertEquals(200, listed.status(), listed.raw());
        assertEquals("[\"" + mine + "\"]", listed.body().path("data").toString(), "only the readable sessions");
        assertEquals(1, listed.body().path("sessions").size());
        assertEquals(mine, listed.body().path("sessions").get(0).path("id").asText(), "with their views");
        assertTrue(listed.body().path("sessions").get(0).has("presence"));
        assertEquals(400, scoped.get("/v1/sessions?expand=everything").status());
        assertTrue(scoped.get("/v1/sessions").body().path("sessions").isMissingNode(), "ids only by default");
        assertEquals(
                403, scoped.get("/v1/sessions/" + other + "/events?offset=-1").status());
        assertEquals(
                403,
                scoped.get("/v1/stream/sessions/" + other + "?offset=-1").status(),
                "nor through the raw stream API");
        assertEquals(
                403,
                scoped.post("/v1/sessions/" + other + "/messages", "{\"content\":\"x\"}")
                        .status());
        var take = scoped.post("/v1/sessions/" + mine + "/floor", "{\"action\":\"take\"}");
        assertEquals(403, take.status(), "taking the floor needs floor");
        assertTrue(take.raw().contains("floor"), "the refusal names the capability: " + take.raw());
        assertEquals(
                403,
                scoped.post("/v1/sessions/" + mine + "/participants", "{\"role\":\"operator\"}")
                        .status(),
                "joining as an operator needs floor");
        assertEquals(
                403,
                scoped.post("/v1/sessions/" + mine + "/messages", "{\"content\":\"x\",\"visibility\":\"operators\"}")
                        .status(),
                "whispering needs floor");
        assertEquals(
                403, scoped.get("/v1/sessions/" + mine + "/audit?format=jsonl").status(), "audit needs audit");
        assertEquals(403, scoped.post("/v1/sessions", "{}").status(), "creating needs create");
        assertEquals(403, scoped.delete("/v1/sessions/" + mine).status(), "deleting needs delete");
        assertEquals(
                401, new SessionClient(server, null).get("/v1/sessions/" + mine).status());
        var msg =
                scoped.post("/v1/sessions/" + mine + "/messages", "{\"content\":\"hi\",\"actor\":{\"id\":\"admin\"}}");
        assertEquals(201, msg.status(), msg.raw());
        assertEquals(
                "carol",
                msg.body().path("message").path("actor").path("id").asText(),
                "a body cannot claim another identity");
    }

    @Test
    void aSessionExpiresAfterItsTtlWithoutActivity() throws Exception {
        String id = admin.create("{\"ttl\":1}");
        String kept = admin.create("{\"ttl\":1}");
        long deadline = System.nanoTime() + 6_000_000_000L;
        int status = 200;
        while (System.nanoTime() < deadline && status != 404) {
            Thread.sleep(300);
            assertEquals(
                    201,
                    alice.post("/v1/sessions/" + kept + "/messages", "{\"content\":\"still here\"}")
                            .status(),
                    "activity keeps a session alive");
            status = admin.get("/v1/sessions/" + id).status();
        }
        assertEquals(404, status, "an idle session is gone after its ttl");
        assertEquals(200, admin.get("/v1/sessions/" + kept).status());
    }

    @Test
    void deletingASessionRemovesItsLog() throws Exception {
        String id = admin.create("{}");
        assertEquals(200, admin.delete("/v1/sessions/" + id).status());
        assertEquals(404, admin.get("/v1/sessions/" + id).status());
        assertEquals(404, admin.get("/v1/sessions/" + id + "/events?offset=-1").status());
    }
}

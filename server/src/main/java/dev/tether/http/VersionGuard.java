package dev.tether.http;

import dev.tether.errors.Condition;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;

/**
 * Sits right after the HTTP decoder of each connection and settles the request's HTTP version
 * before Vert.x sees it (finding 22: Vert.x answers any version but 1.0 and 1.1 with an empty 501):
 * a newer 1.x is served as 1.1 (RFC 9112 §2.6), any other major version gets 505 with a JSON body
 * from the error table, and the connection is closed.
 *
 * <p>Confined to its channel's event loop.
 */
final class VersionGuard extends ChannelInboundHandlerAdapter {
    static final String NAME = "tether-version-guard";

    private boolean rejecting;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (rejecting) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest request && request.decoderResult().isSuccess()) {
            HttpVersion v = request.protocolVersion();
            if (v.majorVersion() == 1 && v.minorVersion() == 0) {
                request.setProtocolVersion(HttpVersion.HTTP_1_0); // also "http/1.0", which Vert.x would 501
            } else if (v.majorVersion() == 1) {
                request.setProtocolVersion(HttpVersion.HTTP_1_1);
            } else if (v.majorVersion() != 1) {
                rejecting = true;
                ReferenceCountUtil.release(msg);
                reject(ctx, v);
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private static void reject(ChannelHandlerContext ctx, HttpVersion v) {
        ErrorTable.Problem p = ErrorTable.problem(
                Condition.VERSION_NOT_SUPPORTED,
                null,
                null,
                "HTTP/" + v.majorVersion() + "." + v.minorVersion() + " is not supported; use HTTP/1.1");
        String id = RequestIds.generate();
        byte[] body = ("{\"error\":{\"code\":\"" + p.code() + "\",\"message\":\"" + p.message() + "\",\"request_id\":\""
                        + id + "\"}}")
                .getBytes(StandardCharsets.UTF_8);
        FullHttpResponse res = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(p.status()), Unpooled.wrappedBuffer(body));
        res.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CONNECTION, "close")
                .set(RequestIds.HEADER, id);
        ctx.channel().writeAndFlush(res).addListener(ChannelFutureListener.CLOSE); // from the tail: through the encoder
    }
}

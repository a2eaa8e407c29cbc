// The backend application of the mod_tcpinspect rig (mapped at /app/*).
//
//   /app/echo?...        method, URI, header count and bytes, body bytes
//   /app/delay?ms=N      sleeps N ms (0..10000), then answers; the time it
//                        really slept in X-Tcpi-Slept-Us (a loaded host
//                        oversleeps)
//   /app/close[?rst=1]   closes the connection without any response
//                        (FIN; with rst=1 an RST via SO_LINGER 0)
//   /app/big?kb=N        an N KiB body (0..65536)
//   /app/status?code=N   an empty answer with status N (200..599)
//   /app/fresh/...       the same endpoints, for the rig's second ProxyPass
//                        (/fresh/, a worker with disablereuse=On)
//
// Compiled against the servlet API only: the Jetty internals /app/close
// needs are reached by reflection, because the webapp class loader hides
// org.eclipse.jetty.* classes from web applications.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.StandardSocketOptions;
import java.nio.channels.NetworkChannel;
import java.nio.charset.StandardCharsets;
import java.util.Collections;

import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

public class TcpiRigServlet extends HttpServlet {
    private static final long MAX_DELAY_MS = 10000;
    private static final int MAX_BIG_KB = 65536;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp)
            throws IOException {
        String path = req.getPathInfo() == null ? "/" : req.getPathInfo();
        if (path.startsWith("/fresh/"))
            path = path.substring("/fresh".length());
        switch (path) {
            case "/echo":   echo(req, resp); break;
            case "/delay":  delay(req, resp); break;
            case "/close":  close(req, resp); break;
            case "/big":    big(req, resp); break;
            case "/status": status(req, resp); break;
            default:
                text(resp, 404, "no such rig endpoint: " + path + "\n");
        }
    }

    /** A bounded integer query parameter, or null when absent or bad. */
    private static Long param(HttpServletRequest req, String name, long min, long max, long dflt) {
        String v = req.getParameter(name);
        if (v == null)
            return dflt;
        try {
            long n = Long.parseLong(v.trim());
            return n < min || n > max ? null : n;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static void text(HttpServletResponse resp, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        resp.setStatus(status);
        resp.setContentType("text/plain; charset=utf-8");
        resp.setContentLength(b.length);
        resp.getOutputStream().write(b);
    }

    private void echo(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        int count = 0;
        long bytes = 0;
        for (String name : Collections.list(req.getHeaderNames())) {
            for (String value : Collections.list(req.getHeaders(name))) {
                count++;
                bytes += name.length() + 2 + value.length() + 2;    // "Name: value\r\n"
            }
        }
        long body = 0;
        byte[] buf = new byte[8192];
        try (InputStream in = req.getInputStream()) {
            for (int n; (n = in.read(buf)) > 0; )
                body += n;
        }
        String uri = req.getRequestURI() + (req.getQueryString() != null ? "?" + req.getQueryString() : "");
        text(resp, 200, "method=" + req.getMethod() + "\n"
                + "uri=" + uri + "\n"
                + "headers=" + count + "\n"
                + "header_bytes=" + bytes + "\n"
                + "body_bytes=" + body + "\n");
    }

    private void delay(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        Long ms = param(req, "ms", 0, MAX_DELAY_MS, 1000);
        if (ms == null) {
            text(resp, 400, "ms must be 0.." + MAX_DELAY_MS + "\n");
            return;
        }
        long t0 = System.nanoTime();
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        resp.setHeader("X-Tcpi-Slept-Us", Long.toString((System.nanoTime() - t0) / 1000));
        text(resp, 200, "slept " + ms + " ms\n");
    }

    private void close(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        boolean rst = "1".equals(req.getParameter("rst"));
        try {
            // org.eclipse.jetty.server.Request -> HttpChannel -> EndPoint
            Object channel = call(req, "getHttpChannel");
            Object endpoint = call(channel, "getEndPoint");
            if (rst) {
                Object transport = call(endpoint, "getTransport");
                if (transport instanceof NetworkChannel)
                    ((NetworkChannel) transport).setOption(StandardSocketOptions.SO_LINGER, 0);
            }
            call(endpoint, "close");
        } catch (ReflectiveOperationException | RuntimeException e) {
            text(resp, 500, "cannot reach the connection: " + e + "\n");
        }
    }

    private static Object call(Object o, String method) throws ReflectiveOperationException {
        Method m = o.getClass().getMethod(method);
        m.setAccessible(true);
        return m.invoke(o);
    }

    private void big(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        Long kb = param(req, "kb", 0, MAX_BIG_KB, 64);
        if (kb == null) {
            text(resp, 400, "kb must be 0.." + MAX_BIG_KB + "\n");
            return;
        }
        byte[] line = new byte[1024];    // 1 KiB: 1023 letters and a newline
        for (int i = 0; i < line.length - 1; i++)
            line[i] = (byte) ('a' + i % 26);
        line[line.length - 1] = '\n';
        resp.setStatus(200);
        resp.setContentType("text/plain");
        resp.setContentLengthLong(kb * 1024);
        OutputStream out = resp.getOutputStream();
        for (long i = 0; i < kb; i++)
            out.write(line);
    }

    private void status(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        Long code = param(req, "code", 200, 599, 200);
        if (code == null) {
            text(resp, 400, "code must be 200..599\n");
            return;
        }
        text(resp, code.intValue(), "status " + code + "\n");
    }
}

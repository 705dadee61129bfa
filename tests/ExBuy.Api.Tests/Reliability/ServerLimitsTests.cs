using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ExBuy.Api.Tests.Infrastructure;
using ExBuy.Api.Tests.Server;

namespace ExBuy.Api.Tests.Reliability;

/// <summary>
/// SIGTERM with slow requests in flight (drained within SHUTDOWN_TIMEOUT, the rest aborted and rolled back, exit 0),
/// and Kestrel's limits against slow, idle and too many clients, on a real process.
/// </summary>
public abstract class ServerLimitsTests(string engine, PostgresCluster cluster) : ServerProcessTests(engine, cluster)
{
    private static HttpRequestMessage Faulted(HttpMethod method, string url, string header, string value, object? body = null)
    {
        var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add(header, value);
        return request;
    }

    [Fact]
    public async Task Sigterm_lets_a_request_in_flight_finish_refuses_new_connections_and_exits_zero()
    {
        var server = await StartAsync(new() { ["SHUTDOWN_TIMEOUT"] = "10s" });
        using var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var slow = client.SendAsync(Faulted(HttpMethod.Get, "/api/products/1?optimize=true", "X-Fault-Delay", "1500ms"), Ct);
        var order = client.SendAsync(Faulted(HttpMethod.Post, "/api/orders", "X-Fault-DB-Delay", "1s",
            new { user_id = 1, items = new[] { new { product_id = 2, quantity = 1 } } }), Ct);
        await Task.Delay(400, Ct);
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, Signals.Send(server.Pid, Signals.SigTerm));
        await Task.Delay(200, Ct);
        // The listener is closed at once: a new connection is refused (a load balancer would have stopped sending).
        using (var fresh = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero }) { BaseAddress = new Uri(server.BaseUrl) })
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => fresh.GetAsync("/api/health", Ct));
        }
        using var slowResponse = await slow;
        Assert.Equal(HttpStatusCode.OK, slowResponse.StatusCode);
        using var orderResponse = await order;
        Assert.Equal(HttpStatusCode.Created, orderResponse.StatusCode);
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(15), Ct));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"exited {clock.Elapsed} after SIGTERM");
    }

    [Fact]
    public async Task Sigterm_with_SHUTDOWN_DELAY_keeps_serving_with_readiness_at_503_and_connections_closing_then_exits_zero()
    {
        var server = await StartAsync(new() { ["SHUTDOWN_DELAY"] = "2s", ["SHUTDOWN_TIMEOUT"] = "8s" });
        var info = JsonNode.Parse(await server.Client.GetStringAsync("/api/info", Ct))!;
        Assert.Equal(2.0, (double)info["http"]!["shutdown_delay_s"]!);
        using var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
        using (var before = await client.GetAsync("/api/products/1", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
            Assert.False(before.Headers.ConnectionClose ?? false);
        }
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, Signals.Send(server.Pid, Signals.SigTerm));
        await Task.Delay(300, Ct);
        // Draining: a load balancer's health check sees 503, every other request is still served, and each response
        // asks the client to close its connection, so kept-alive connections end with their current request.
        using (var ready = await client.GetAsync("/api/health/ready", Ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("draining", (string?)JsonNode.Parse(await ready.Content.ReadAsStringAsync(Ct))!["status"]);
        }
        for (var i = 0; i < 5; i++)
        {
            using var served = await client.GetAsync($"/api/products/{i + 1}", Ct);
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.True(served.Headers.ConnectionClose, "a response while draining carries Connection: close");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.8), $"still draining at {clock.Elapsed}");
        }
        // After the delay the listener closes and the process exits 0, within the delay plus a normal drain.
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(15), Ct));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task A_request_past_SHUTDOWN_TIMEOUT_is_aborted_and_its_write_rolled_back_and_the_exit_is_still_zero()
    {
        var server = await StartAsync(new() { ["SHUTDOWN_TIMEOUT"] = "1s" });
        var product = JsonNode.Parse(await server.Client.GetStringAsync("/api/products/3?optimize=true", Ct))!;
        var stock = (int)product["stock"]!;
        using var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        // The DB delay holds the request's connection (and on SQLite the write lock) before the order is written.
        var order = client.SendAsync(Faulted(HttpMethod.Post, "/api/orders", "X-Fault-DB-Delay", "20s",
            new { user_id = 1, items = new[] { new { product_id = 3, quantity = 1 } } }), Ct);
        await Task.Delay(500, Ct);
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, Signals.Send(server.Pid, Signals.SigTerm));
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(15), Ct));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"exited {clock.Elapsed} after SIGTERM with SHUTDOWN_TIMEOUT=1s");
        // The client sees its connection end without an answer: the server never said the order was placed.
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => order);

        // Nothing of the aborted order is in the database: the same data served again shows the stock untouched.
        var same = new Dictionary<string, string> { ["SEED_ON_EMPTY"] = "none" };
        foreach (var key in new[] { "DB_PATH", "DB_NAME" })
        {
            if (server.Environment.TryGetValue(key, out var value))
            {
                same[key] = value;
            }
        }
        var again = await StartAsync(same);
        var after = JsonNode.Parse(await again.Client.GetStringAsync("/api/products/3?optimize=true", Ct))!;
        Assert.Equal(stock, (int)after["stock"]!);
    }

    [Fact]
    public async Task A_client_sending_its_headers_slowly_is_cut_off_after_HTTP_HEADERS_TIMEOUT()
    {
        var server = await StartAsync(new() { ["HTTP_HEADERS_TIMEOUT"] = "1s" });
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
        var stream = socket.GetStream();
        var clock = Stopwatch.StartNew();
        var closed = false;
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /api/health HTTP/1.1\r\nHost: x\r\n"), Ct);
            // One header byte every 300 ms: never a complete request.
            for (var i = 0; i < 30 && !closed; i++)
            {
                await stream.WriteAsync("X"u8.ToArray(), Ct);
                await Task.Delay(300, Ct);
                closed = socket.Client.Poll(0, SelectMode.SelectRead) && (socket.Available == 0 || await DrainsToEndAsync(stream));
            }
        }
        catch (IOException)
        {
            closed = true;
        }
        Assert.True(closed, "the slow-header connection was still open after 9 s");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(4));
        // The server is fine for everyone else.
        using var health = await server.Client.GetAsync("/api/health", Ct);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    /// <summary>Reads what the server sent (a 408, if anything) to the end of the stream.</summary>
    private async Task<bool> DrainsToEndAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer, Ct) > 0)
        {
        }
        return true;
    }

    [Fact]
    public async Task An_idle_keep_alive_connection_is_closed_after_HTTP_KEEPALIVE_TIMEOUT()
    {
        var server = await StartAsync(new() { ["HTTP_KEEPALIVE_TIMEOUT"] = "1s" });
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"), Ct);
        Assert.StartsWith("HTTP/1.1 200", await ReadResponseAsync(stream));
        var buffer = new byte[4096];
        var clock = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await stream.ReadAsync(buffer, timeout.Token)); // the server closed it
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(4));
    }

    /// <summary>One whole HTTP/1.1 response (Content-Length or chunked), read off a raw connection.</summary>
    private async Task<string> ReadResponseAsync(NetworkStream stream) => (await ReadResponseAsync(stream, nullIfClosedAtOnce: false))!;

    /// <summary>The same, or null when the server closed (or reset) the connection before answering anything.</summary>
    private Task<string?> TryReadResponseAsync(NetworkStream stream) => ReadResponseAsync(stream, nullIfClosedAtOnce: true);

    private async Task<string?> ReadResponseAsync(NetworkStream stream, bool nullIfClosedAtOnce)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, Ct);
            }
            catch (IOException) when (nullIfClosedAtOnce && text.Length == 0)
            {
                return null;
            }
            if (read == 0 && nullIfClosedAtOnce && text.Length == 0)
            {
                return null;
            }
            Assert.True(read > 0, "the connection closed before the response ended: " + text);
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            var all = text.ToString();
            var end = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
            {
                continue;
            }
            var length = System.Text.RegularExpressions.Regex.Match(all[..end], @"(?im)^content-length:\s*(\d+)");
            if (length.Success ? all.Length - end - 4 >= int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
                : all.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal))
            {
                return all;
            }
        }
    }

    [Fact]
    public async Task Past_HTTP_MAX_CONNECTIONS_a_new_connection_is_closed_and_the_open_ones_keep_working()
    {
        var server = await StartAsync(new() { ["HTTP_MAX_CONNECTIONS"] = "3" });
        var info = JsonNode.Parse(await server.Client.GetStringAsync("/api/info", Ct))!;
        Assert.Equal(3, (long)info["http"]!["max_connections"]!);
        server.Client.Dispose(); // its pooled connection would count
        var held = new List<TcpClient>();
        try
        {
            var attempts = 0;
            while (held.Count < 3)
            {
                var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
                // A request answered on it: the server has surely accepted (and counts) this connection. The disposed
                // client's connection may still be counted for a moment (the server sees its close asynchronously): then
                // this one is closed at once, and after a pause the slot is tried again.
                await c.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"), Ct);
                var answer = await TryReadResponseAsync(c.GetStream());
                if (answer is null && ++attempts < 50)
                {
                    c.Dispose();
                    await Task.Delay(100, Ct);
                    continue;
                }
                held.Add(c);
                Assert.StartsWith("HTTP/1.1 200", answer);
            }
            using (var extra = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero }) { BaseAddress = new Uri(server.BaseUrl) })
            {
                await Assert.ThrowsAnyAsync<HttpRequestException>(() => extra.GetAsync("/api/health", Ct));
            }
            // A held connection still serves.
            var stream = held[0].GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"), Ct);
            Assert.StartsWith("HTTP/1.1 200", await ReadResponseAsync(stream));
        }
        finally
        {
            foreach (var c in held)
            {
                c.Dispose();
            }
        }
        // Once they are gone, new connections are served again.
        await Task.Delay(300, Ct);
        using var again = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        using var response = await again.GetAsync("/api/health", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

public sealed class ServerLimitsSqliteTests(PostgresCluster cluster) : ServerLimitsTests("sqlite", cluster);

public sealed class ServerLimitsPostgresTests(PostgresCluster cluster) : ServerLimitsTests("postgres", cluster);

using System.Net;
using System.Text.Json;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Observability;

/// <summary>What a real ExBuy process writes to stdout under each logging switch.</summary>
public abstract class LoggingTests(string engine, PostgresCluster cluster) : ServerProcessTests(engine, cluster)
{
    private async Task<int> GetDetailAsync(ExBuyServer server)
    {
        using var response = await server.Client.GetAsync("/api/products/3?optimize=false", Ct);
        await response.ExpectAsync(HttpStatusCode.OK);
        return response.QueryCount();
    }

    [Fact]
    public async Task DbLogLevelDebugPrintsEverySqlStatementWithItsDuration()
    {
        var server = await StartAsync(new() { ["DB_LOG_LEVEL"] = "DEBUG" });
        await GetDetailAsync(server);
        await server.WaitForStdoutAsync(line => line.Contains("Executed DbCommand (", StringComparison.Ordinal)
            && line.Contains("ms)", StringComparison.Ordinal), Ct);
        await server.WaitForStdoutAsync(line => line.Contains("FROM", StringComparison.Ordinal)
            && line.Contains("reviews", StringComparison.Ordinal), Ct);
    }

    [Fact]
    public async Task JsonFormatWritesOneJsonObjectPerLineWithSqlAndAccessRecords()
    {
        var server = await StartAsync(new() { ["LOG_FORMAT"] = "json", ["DB_LOG_LEVEL"] = "DEBUG", ["ACCESS_LOG"] = "true" });
        var queries = await GetDetailAsync(server);
        var access = await server.WaitForStdoutAsync(line => line.Contains("\"ExBuy.Access\"", StringComparison.Ordinal)
            && line.Contains("/api/products/", StringComparison.Ordinal), Ct);
        await server.WaitForStdoutAsync(line => line.Contains("Executed DbCommand", StringComparison.Ordinal), Ct);

        var records = server.StdoutLines.Select(line =>
        {
            try
            {
                return JsonDocument.Parse(line).RootElement.Clone();
            }
            catch (JsonException ex)
            {
                Assert.Fail($"stdout line is not JSON ({ex.Message}): {line}");
                throw;
            }
        }).ToArray();
        Assert.Contains(records, r => r.GetProperty("Message").GetString()!.StartsWith("ExBuy is serving", StringComparison.Ordinal));
        Assert.Contains(records, r => r.GetProperty("Category").GetString() == "Microsoft.EntityFrameworkCore.Database.Command"
            && r.GetProperty("Message").GetString()!.Contains("SELECT", StringComparison.Ordinal));

        var state = JsonDocument.Parse(access).RootElement.GetProperty("State");
        Assert.Equal("GET", state.GetProperty("Method").GetString());
        Assert.Equal("/api/products/{id:long:min(1)}", state.GetProperty("Route").GetString());
        Assert.Equal("200", state.GetProperty("Status").ToString());
        Assert.Equal(queries.ToString(System.Globalization.CultureInfo.InvariantCulture), state.GetProperty("Queries").ToString());
        Assert.True(double.Parse(state.GetProperty("ElapsedMs").ToString(), System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public async Task DefaultsLogNeitherSqlNorRequests()
    {
        var server = await StartAsync([]);
        await GetDetailAsync(server);
        await server.WaitForStdoutAsync(line => line.StartsWith("ExBuy is serving", StringComparison.Ordinal), Ct);
        // The console logger writes from a queue: give it time to write what it would have written.
        await Task.Delay(500, Ct);
        Assert.DoesNotContain(server.StdoutLines, line => line.Contains("Executed DbCommand", StringComparison.Ordinal));
        Assert.DoesNotContain(server.StdoutLines, line => line.Contains("/api/products", StringComparison.Ordinal)
            && !line.StartsWith("ExBuy is serving", StringComparison.Ordinal));
    }
}

public sealed class LoggingSqliteTests(PostgresCluster cluster) : LoggingTests("sqlite", cluster);

public sealed class LoggingPostgresTests(PostgresCluster cluster) : LoggingTests("postgres", cluster);

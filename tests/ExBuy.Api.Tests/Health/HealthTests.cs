using System.Net;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Health;

public abstract class HealthTests(ExBuyApp app) : EngineTests(app)
{
    [Fact]
    public async Task HealthAnswersOkWithoutTouchingTheDatabase()
    {
        var response = await Client.GetAsync("/api/health", Ct);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("""{"status":"ok"}""", body.GetRawText());
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task ReadyChecksTheDatabase()
    {
        var response = await Client.GetAsync("/api/health/ready", Ct);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("""{"status":"ok","database":"ok"}""", body.GetRawText());
        Assert.Equal(1, response.QueryCount());
    }

    [Fact]
    public async Task InfoSaysWhatIsAnswering()
    {
        var response = await Client.GetAsync("/api/info", Ct);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(App.Engine, body.GetProperty("db_engine").GetString());
        Assert.True(body.GetProperty("gc").TryGetProperty("server", out _));
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task UnknownApiPathIsAProblem404WithQueryCount()
    {
        var response = await Client.GetAsync("/api/nope", Ct);
        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(0, response.QueryCount());
    }
}

public sealed class HealthSqliteTests(SqliteApp app) : HealthTests(app), IClassFixture<SqliteApp>;

public sealed class HealthPostgresTests(PostgresApp app) : HealthTests(app), IClassFixture<PostgresApp>;

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>
/// Base of every feature's abstract test class: the same tests run once per engine through two small subclasses
/// (<c>XxxSqliteTests</c>, <c>XxxPostgresTests</c>).
/// </summary>
public abstract class EngineTests(ExBuyApp app) : IAsyncLifetime
{
    private HttpClient? _client;

    protected ExBuyApp App => app;

    /// <summary>No redirect handler: the API has no redirects, and that handler buffers every request body.</summary>
    protected HttpClient Client => _client ??= app.CreateClient(new() { AllowAutoRedirect = false });

    protected bool IsPostgres => app.Engine == "postgres";

    protected CancellationToken Ct => TestContext.Current.CancellationToken;

    public virtual ValueTask InitializeAsync()
    {
        (app as PostgresApp)?.Cluster.EnsureAvailable();
        return ValueTask.CompletedTask;
    }

    public virtual ValueTask DisposeAsync()
    {
        _client?.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>
/// Base of tests that start real ExBuy processes of their own (a variant per test): each started server is stopped and
/// its directory removed when the test ends.
/// </summary>
public abstract class ServerProcessTests(string engine, PostgresCluster cluster) : IAsyncLifetime
{
    private readonly List<ExBuyServer> _servers = [];

    protected CancellationToken Ct => TestContext.Current.CancellationToken;

    protected string Engine => engine;

    protected PostgresCluster Cluster => cluster;

    protected bool IsPostgres => engine == "postgres";

    public virtual ValueTask InitializeAsync()
    {
        if (IsPostgres)
        {
            cluster.EnsureAvailable();
        }
        return ValueTask.CompletedTask;
    }

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    protected async Task<ExBuyServer> StartAsync(Dictionary<string, string> environment)
    {
        var server = await ExBuyServer.StartAsync(engine, cluster, environment, Ct);
        _servers.Add(server);
        return server;
    }
}

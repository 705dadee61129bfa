using System.Diagnostics;
using ExBuy.Api.Commands;
using ExBuy.Api.Tests.Infrastructure;

namespace ExBuy.Api.Tests.Health;

/// <summary><c>healthcheck</c>, the verb a container's HEALTHCHECK runs: which URL it checks, and its exit codes on a real process.</summary>
public sealed class HealthCheckCommandTests(PostgresCluster cluster)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(null, "http://127.0.0.1:8000/api/health/ready")]
    [InlineData("http://+:8080", "http://127.0.0.1:8080/api/health/ready")]
    [InlineData("http://*:8081/", "http://127.0.0.1:8081/api/health/ready")]
    [InlineData("http://0.0.0.0:9000;http://127.0.0.1:9001", "http://127.0.0.1:9000/api/health/ready")]
    [InlineData("http://[::]:8082", "http://127.0.0.1:8082/api/health/ready")]
    public void TheDefaultTargetIsTheFirstListenUrlOnLoopback(string? listen, string expected) =>
        Assert.Equal(expected, HealthCheckCommand.Target([], listen).ToString());

    [Fact]
    public void UrlAndUrlsArgumentsWin()
    {
        Assert.Equal("http://db-less:1/x", HealthCheckCommand.Target(["--url", "http://db-less:1/x"], "http://+:8080").ToString());
        Assert.Equal("http://127.0.0.1:7000/api/health/ready", HealthCheckCommand.Target(["--urls", "http://+:7000"], "http://+:8080").ToString());
    }

    [Theory]
    [InlineData("--url", "nope", "--url 'nope' is not an absolute http:// or https:// URL")]
    [InlineData("--port", "1", "unknown argument '--port'")]
    public void BadArgumentsNameWhatIsWrong(string flag, string value, string message)
    {
        var e = Assert.Throws<CommandException>(() => HealthCheckCommand.Target([flag, value], null));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ExBuy.Api.dll"));
        psi.ArgumentList.Add("healthcheck");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove("ASPNETCORE_URLS");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bounded.CancelAfter(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(bounded.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task ExitsZeroOnAReadyServerOneOnNoServerTwoOnABadArgument()
    {
        await using var server = await ExBuyServer.StartAsync("sqlite", cluster, null, Ct);
        var (ok, okOutput) = await RunAsync("--url", server.BaseUrl + "/api/health/ready");
        Assert.True(ok == 0, okOutput);
        Assert.Contains("answered 200", okOutput, StringComparison.Ordinal);

        var (down, downOutput) = await RunAsync("--url", $"http://127.0.0.1:{ExBuyServer.FreePort()}/api/health/ready");
        Assert.Equal(1, down);
        Assert.Contains("did not answer", downOutput, StringComparison.Ordinal);

        var (notFound, notFoundOutput) = await RunAsync("--url", server.BaseUrl + "/api/nowhere");
        Assert.Equal(1, notFound);
        Assert.Contains("answered 404", notFoundOutput, StringComparison.Ordinal);

        var (bad, badOutput) = await RunAsync("--url", "nope");
        Assert.Equal(2, bad);
        Assert.Contains("exbuy healthcheck: --url 'nope'", badOutput, StringComparison.Ordinal);
    }
}

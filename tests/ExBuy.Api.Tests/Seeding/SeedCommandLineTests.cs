using System.Net;
using System.Net.Sockets;
using ExBuy.Api.Commands;
using ExBuy.Api.Data;
using ExBuy.Api.Data.Seeding;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ExBuy.Api.Tests.Seeding;

/// <summary>Command-line parsing, presets and the one-line failures of seed/reset/warmup; no database needed.</summary>
public sealed class SeedCommandLineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void DefaultIsTheOriginalsMediumPreset()
    {
        var options = SeedCommandLine.ParseSeed([]);

        Assert.Equal(new SeedOptions(10_000, 50_000, 100_000, 5000, 42, false, null), options);
    }

    [Theory]
    [InlineData("small", 1_000, 5_000, 10_000)]
    [InlineData("medium", 10_000, 50_000, 100_000)]
    [InlineData("large", 100_000, 500_000, 1_000_000)]
    public void PresetsSetTheCounts(string preset, int products, int orders, int reviews)
    {
        var options = SeedCommandLine.ParseSeed(["--preset", preset]);

        Assert.Equal((products, orders, reviews), (options.Products, options.Orders, options.Reviews));
    }

    [Fact]
    public void ExplicitCountsOverrideThePresetInAnyOrder()
    {
        var options = SeedCommandLine.ParseSeed(
            ["--products", "300", "--preset", "large", "--reviews=900", "--batch-size", "7", "--random-seed", "11", "--method", "insert", "--reset"]);

        Assert.Equal(new SeedOptions(300, 500_000, 900, 7, 11, true, SeedMethod.Insert), options);
    }

    [Fact]
    public void IfEmptyIsASwitchThatSurvivesAPresetAndContradictsReset()
    {
        Assert.False(SeedCommandLine.ParseSeed([]).IfEmpty);
        Assert.Equal(new SeedOptions(1_000, 5_000, 10_000, IfEmpty: true), SeedCommandLine.ParseSeed(["--if-empty", "--preset", "small"]));
        Assert.Equal("--if-empty takes no value.",
            Assert.Throws<CommandException>(() => SeedCommandLine.ParseSeed(["--if-empty=true"])).Message);
        Assert.StartsWith("--reset and --if-empty contradict each other",
            Assert.Throws<CommandException>(() => SeedCommandLine.ParseSeed(["--reset", "--if-empty"])).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--products -5", "--products -5 is out of range: use 0..100000000.")]
    [InlineData("--orders abc", "--orders 'abc' is not a whole number.")]
    [InlineData("--reviews 1.5", "--reviews '1.5' is not a whole number.")]
    [InlineData("--products 99999999999", "--products 99999999999 is out of range: use 0..100000000.")]
    [InlineData("--products 0 --orders 10", "--orders 10 needs products to order: set --products to at least 1.")]
    [InlineData("--products 0 --orders 0 --reviews 3", "--reviews 3 needs products to review: set --products to at least 1.")]
    [InlineData("--batch-size 0", "--batch-size 0 is out of range: use 1..1000000.")]
    [InlineData("--random-seed -1", "--random-seed -1 is out of range: use 0..2147483647.")]
    [InlineData("--preset huge", "unknown preset 'huge': use small, medium or large.")]
    [InlineData("--method bulk", "--method 'bulk' is not known: use copy or insert.")]
    [InlineData("--products", "--products needs a value.")]
    [InlineData("--products --orders 5", "--products needs a value.")]
    [InlineData("--reset=yes", "--reset takes no value.")]
    [InlineData("products 5", "unexpected argument 'products' for seed: options look like --name value (see `help`).")]
    public void BadSeedInputIsOneClearLine(string args, string message)
    {
        var ex = Assert.Throws<CommandException>(() => SeedCommandLine.ParseSeed(args.Split(' ')));

        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void UnknownSeedOptionListsTheKnownOnes()
    {
        var ex = Assert.Throws<CommandException>(() => SeedCommandLine.ParseSeed(["--prodcts", "5"]));

        Assert.StartsWith("unknown option '--prodcts' for seed: use --preset small|medium|large", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResetTakesNoOptions()
    {
        SeedCommandLine.ParseReset([]);
        var ex = Assert.Throws<CommandException>(() => SeedCommandLine.ParseReset(["--all", "1"]));

        Assert.Equal("unknown option '--all' for reset: it takes no options.", ex.Message);
    }

    [Fact]
    public void WarmupDefaultsAndBounds()
    {
        Assert.Equal(new WarmupOptions(new Uri("http://127.0.0.1:8000"), 200), SeedCommandLine.ParseWarmup([]));
        Assert.Equal(new WarmupOptions(new Uri("http://10.0.0.5:9000"), 50),
            SeedCommandLine.ParseWarmup(["--url", "http://10.0.0.5:9000", "--requests", "50"]));
        Assert.Equal("--requests 0 is out of range: use 1..100000.",
            Assert.Throws<CommandException>(() => SeedCommandLine.ParseWarmup(["--requests", "0"])).Message);
        Assert.StartsWith("--url 'localhost:8000' is not an absolute http:// or https:// URL",
            Assert.Throws<CommandException>(() => SeedCommandLine.ParseWarmup(["--url", "localhost:8000"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadInputExitsWithCode2BeforeTouchingAnyDatabase()
    {
        Assert.Equal(2, await ExBuyCommands.RunAsync(["seed", "--orders", "many"]));
        Assert.Equal(2, await ExBuyCommands.RunAsync(["warmup", "--nope"]));
    }

    [Fact]
    public async Task WarmupAgainstNoServerSaysSo()
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ClosedPort()}"), Timeout = TimeSpan.FromSeconds(5) };

        var ex = await Assert.ThrowsAsync<CommandException>(() => Warmup.RunAsync(client, 10, Ct));

        Assert.StartsWith($"no server answers at http://127.0.0.1:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("or pass --url", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachablePostgresIsExplainedInOneLine()
    {
        var port = ClosedPort();
        await using var services = DataServices(new()
        {
            ["DB_ENGINE"] = "postgres", ["DB_HOST"] = "127.0.0.1", ["DB_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DB_NAME"] = "exbuy_nowhere", ["DB_PASSWORD"] = "x",
        });

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => Seeder.SeedAsync(services, new SeedOptions(10, 10, 10), Ct));
        var line = DatabaseStartup.Explain(services.GetRequiredService<DatabaseOptions>(), ex);

        Assert.StartsWith($"exbuy: cannot use the database (postgres postgres@127.0.0.1:{port}/exbuy_nowhere)", line, StringComparison.Ordinal);
        Assert.Contains("set DB_HOST, DB_PORT", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public async Task UnopenableSqliteIsExplainedInOneLine()
    {
        await using var services = DataServices(new() { ["DB_ENGINE"] = "sqlite", ["DB_PATH"] = "/nonexistent-dir/exbuy.db" });

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => Seeder.SeedAsync(services, new SeedOptions(10, 10, 10), Ct));
        var line = DatabaseStartup.Explain(services.GetRequiredService<DatabaseOptions>(), ex);

        Assert.StartsWith("exbuy: cannot use the database (sqlite /nonexistent-dir/exbuy.db)", line, StringComparison.Ordinal);
        Assert.Contains("Check DB_PATH", line, StringComparison.Ordinal);
    }

    private static ServiceProvider DataServices(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddLogging().AddExBuyData(configuration).BuildServiceProvider();
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

namespace ExBuy.Api.Data.Seeding;

public sealed record SeedOptions(int Products, int Orders, int Reviews, int BatchSize = 5000, int RandomSeed = 42, bool Reset = false);

public static class SeedPresets
{
    public static SeedOptions Resolve(string name) => name switch
    {
        "small" => new SeedOptions(1_000, 5_000, 10_000),
        "medium" => new SeedOptions(10_000, 50_000, 100_000),
        "large" => new SeedOptions(100_000, 500_000, 1_000_000),
        _ => throw new CommandException($"unknown preset '{name}': use small, medium or large."),
    };
}

public static class Seeder
{
    public static Task SeedAsync(IServiceProvider services, SeedOptions options, CancellationToken ct) => Task.CompletedTask;
}

public static class SeedCommands
{
    public static Task<int> RunAsync(string[] args, CancellationToken ct) => Task.FromResult(0);
}

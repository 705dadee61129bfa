namespace ExBuy.Api.Data.Seeding;

/// <summary>
/// One engine's side of a load, all inside one transaction opened by <see cref="BeginAsync"/>: an interrupted or failed
/// load rolls back and leaves the tables as they were.
/// </summary>
internal interface ISeedStore : IAsyncDisposable
{
    string Engine { get; }

    Task BeginAsync(CancellationToken ct);

    /// <summary>Row counts of the four tables, in <see cref="SeedTables.All"/> order.</summary>
    Task<long[]> CountRowsAsync(CancellationToken ct);

    /// <summary>Empties every table and restarts its id sequence.</summary>
    Task EmptyAsync(CancellationToken ct);

    /// <summary>Drops secondary indexes (and foreign keys where the engine can), remembering their exact definitions.</summary>
    Task DropSecondaryAsync(CancellationToken ct);

    Task LoadAsync(SeedTable table, SeedPlan plan, SeedMethod method, int batchSize, Action<int> advance, CancellationToken ct);

    /// <summary>Recreates what <see cref="DropSecondaryAsync"/> dropped, from the remembered definitions.</summary>
    Task RecreateSecondaryAsync(CancellationToken ct);

    /// <summary>Moves every id sequence past the largest id, so the next insert gets max + 1.</summary>
    Task AdvanceSequencesAsync(CancellationToken ct);

    Task AnalyzeAsync(CancellationToken ct);

    Task CommitAsync(CancellationToken ct);
}

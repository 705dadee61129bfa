namespace ExBuy.Load.Tests;

/// <summary>Runs that measure time (the open model's rate, the end-to-end run) do not share the 2 cores with each other.</summary>
[CollectionDefinition("runs")]
public sealed class RunsCollection;

namespace ExBuy.Api.Health;

/// <summary>Facts about this process fixed at start-up (for /api/info).</summary>
public sealed record ServerInfo(DateTime StartedAt);

using Microsoft.Extensions.Primitives;

namespace ExBuy.Api.Common;

/// <summary>
/// Endpoint metadata: this route takes <c>?optimize=</c> (naive N+1 vs projection). Request observation reads it to
/// put the flag beside the route on the SQL-per-request histogram, so both paths show side by side.
/// </summary>
public sealed class OptimizeFlag
{
    public static readonly OptimizeFlag Instance = new();

    private OptimizeFlag()
    {
    }

    /// <summary>"true" or "false" as the handler reads it (<c>true|1</c> in any case; absent or anything else: the naive default).</summary>
    public static string ValueOf(IQueryCollection query)
    {
        var raw = query["optimize"];
        return raw.Count == 1 && (string.Equals(raw[0], "true", StringComparison.OrdinalIgnoreCase) || raw[0] == "1")
            ? "true"
            : "false";
    }
}

public static class OptimizeFlagExtensions
{
    public static TBuilder WithOptimizeFlag<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(OptimizeFlag.Instance);
}

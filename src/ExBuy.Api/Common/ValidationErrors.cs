namespace ExBuy.Api.Common;

/// <summary>Field path → messages, with the contract's keys (<c>items[1].quantity</c>); empty means valid.</summary>
public sealed class ValidationErrors : Dictionary<string, string[]>
{
    public ValidationErrors() : base(StringComparer.Ordinal)
    {
    }

    public bool IsValid => Count == 0;

    /// <summary>The 400 of a JSON endpoint called without a body (the same key and words everywhere).</summary>
    public static ValidationErrors BodyRequired() => new() { { "body", Messages.BodyRequired } };

    public void Add(string field, string message)
    {
        if (TryGetValue(field, out var existing))
        {
            this[field] = [.. existing, message];
        }
        else
        {
            this[field] = [message];
        }
    }
}

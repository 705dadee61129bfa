using System.Globalization;
using ExBuy.Api.Data;

namespace ExBuy.Api.Common;

/// <summary>
/// Query-string values are parsed here, not by framework binding, so a bad value is a 400 naming the parameter
/// (contract: Conventions) and flags accept <c>true|false|1|0</c> in any case.
/// </summary>
public static class QueryParsing
{
    public static bool Flag(IQueryCollection query, string name, ValidationErrors errors) =>
        OptionalFlag(query, name, errors) ?? false;

    public static bool? OptionalFlag(IQueryCollection query, string name, ValidationErrors errors)
    {
        if (!TrySingle(query, name, errors, out var raw) || raw is null)
        {
            return null;
        }
        if (raw.Equals("true", StringComparison.OrdinalIgnoreCase) || raw == "1")
        {
            return true;
        }
        if (raw.Equals("false", StringComparison.OrdinalIgnoreCase) || raw == "0")
        {
            return false;
        }
        errors.Add(name, "Must be one of true, false, 1, 0.");
        return null;
    }

    public static int Int(IQueryCollection query, string name, int fallback, int min, int max, ValidationErrors errors) =>
        OptionalLong(query, name, min, max, errors) is { } v ? (int)v : fallback;

    public static long? OptionalLong(IQueryCollection query, string name, long min, long max, ValidationErrors errors)
    {
        if (!TrySingle(query, name, errors, out var raw) || raw is null)
        {
            return null;
        }
        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            errors.Add(name, "A valid integer is required.");
            return null;
        }
        if (v < min || v > max)
        {
            errors.Add(name, max == long.MaxValue || max == int.MaxValue
                ? $"Must be at least {min}."
                : $"Must be between {min} and {max}.");
            return null;
        }
        return v;
    }

    /// <summary>A non-negative decimal with at most 2 places that fits numeric(12,2).</summary>
    public static decimal? OptionalMoney(IQueryCollection query, string name, ValidationErrors errors)
    {
        if (!TrySingle(query, name, errors, out var raw) || raw is null)
        {
            return null;
        }
        if (!decimal.TryParse(raw, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v))
        {
            errors.Add(name, "A valid non-negative number is required.");
            return null;
        }
        if (v > Money.Max)
        {
            errors.Add(name, $"Must be at most {Money.Max.ToString(CultureInfo.InvariantCulture)}.");
            return null;
        }
        if (decimal.Round(v, 2) != v)
        {
            // SQLite compares integer cents (the parameter is rounded), PostgreSQL the exact numeric: a third decimal
            // would make max_price=10.005 include 10.01 on one engine only.
            errors.Add(name, "Ensure that there are no more than 2 decimal places.");
            return null;
        }
        return v;
    }

    public static string? OptionalString(IQueryCollection query, string name, int maxLength, ValidationErrors errors)
    {
        if (!TrySingle(query, name, errors, out var raw) || raw is null)
        {
            return null;
        }
        if (raw.Length > maxLength)
        {
            errors.Add(name, $"Ensure this value has at most {maxLength} characters (it has {raw.Length}).");
            return null;
        }
        if (raw.Contains('\0'))
        {
            // PostgreSQL refuses NUL in text (22021), which would otherwise surface as a 500.
            errors.Add(name, "Null characters are not allowed.");
            return null;
        }
        return raw;
    }

    /// <summary>A parameter given more than once is ambiguous: 400 rather than guessing which one was meant.</summary>
    private static bool TrySingle(IQueryCollection query, string name, ValidationErrors errors, out string? value)
    {
        value = null;
        if (!query.TryGetValue(name, out var values) || values.Count == 0)
        {
            return true;
        }
        if (values.Count > 1)
        {
            errors.Add(name, "Give this parameter once.");
            return false;
        }
        value = values[0];
        return true;
    }
}

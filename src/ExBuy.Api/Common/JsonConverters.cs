using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ExBuy.Api.Common;

/// <summary>
/// Timestamps on the wire: ISO-8601 UTC with a Z suffix and milliseconds (contract: Conventions). SQLite hands back
/// <see cref="DateTimeKind.Unspecified"/>; every stored timestamp is UTC, so the kind is not consulted.
/// </summary>
public sealed class UtcDateTimeConverter : JsonConverter<DateTime>
{
    public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTime().ToUniversalTime();

    public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options)
    {
        Span<char> buffer = stackalloc char[24];
        value.TryFormat(buffer, out var written, "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fff'Z'", CultureInfo.InvariantCulture);
        writer.WriteStringValue(buffer[..written]);
    }
}

/// <summary>
/// Money and ratings are written with exactly two decimals whatever the engine returned (numeric(12,2) keeps the
/// scale, SQLite cents do not), so both engines and both optimize paths produce the same bytes.
/// </summary>
public sealed class TwoDecimalsConverter : JsonConverter<decimal>
{
    public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDecimal();

    public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(decimal.Round(value, 2, MidpointRounding.AwayFromZero) + 0.00m);
}

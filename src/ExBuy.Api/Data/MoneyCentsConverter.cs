using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ExBuy.Api.Data;

/// <summary>decimal money ↔ integer cents (SQLite only; the rule itself is <see cref="Money"/>).</summary>
public sealed class MoneyCentsConverter() : ValueConverter<decimal, long>(
    v => Money.ToCents(v),
    v => Money.FromCents(v));

using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ExBuy.Api.Data;

/// <summary>decimal money ↔ integer cents (SQLite only; the contract keeps money exact to 2 decimals).</summary>
public sealed class MoneyCentsConverter() : ValueConverter<decimal, long>(
    v => (long)decimal.Round(v * 100m, MidpointRounding.AwayFromZero),
    v => v / 100m);

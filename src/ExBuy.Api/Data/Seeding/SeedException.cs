namespace ExBuy.Api.Data.Seeding;

/// <summary>
/// A load the seeder refuses before it changes anything (bad counts, an unknown preset, COPY on SQLite, a non-empty
/// database without reset): one line that names the value and the fix.
/// </summary>
public sealed class SeedException(string message) : Exception(message);

namespace ExBuy.Api;

/// <summary>A bad setting (environment variable): printed as one line that names it and says what is accepted, exit 2.</summary>
public sealed class ConfigurationError(string message) : Exception(message);

namespace ExBuy.Api.Commands;

/// <summary>A command's own error: printed as one line, exit code 2.</summary>
public sealed class CommandException(string message) : Exception(message);
